//===- FlashAttentionKernel.cpp - attention as one tensor-core kernel -----===//
//
// The mma.sync m16n8k16 fragments are the PTX ISA's (g = lane / 4,
// t = lane % 4): a score tile's accumulators c0..c3 sit at rows g, g+8 and
// columns 2t, 2t+1, which is also where the A operand of the next product
// wants them (two adjacent 8-column tiles make one 16-deep A fragment), so
// the probabilities go from the first product to the second in registers.
// The four lanes of a quad share rows: row maxima and sums are combined
// with two xor shuffles.
//
// Masked scores are -1e30, not -inf, so a row whose keys so far are all
// masked keeps finite state; the first real score rescales that state by
// exp(-1e30 - m) = 0.
//
//===----------------------------------------------------------------------===//
#include "FlashAttentionKernel.h"
#include "KernelMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::tetra;

namespace {

constexpr int64_t kWarps = 4, kQueryTile = 16 * kWarps, kKeyTile = 64;
constexpr float kMasked = -1.0e30f;

struct Emitter {
  OpBuilder &b;
  Location loc;
  IndexMath m{b, loc};
  Type f32 = b.getF32Type();

  Value f(float v) { return arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(v)); }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value bf16(Value x) { return arith::TruncFOp::create(b, loc, b.getBF16Type(), x); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }

  /// memory[indices] if `inside`, else 0; indices are clamped to 0 outside.
  Value guardedLoad(Value memory, SmallVector<Value> indices, Value inside, unsigned guarded) {
    indices[guarded] = select(inside, indices[guarded], m.c(0));
    Value v = memref::LoadOp::create(b, loc, memory, indices);
    return select(inside, v, f(0.0f));
  }

  /// The value of `x` in lane (lane ^ offset) of the warp.
  Value shuffleXor(Value x, int32_t offset) {
    Value o = arith::ConstantIntOp::create(b, loc, b.getI32Type(), offset);
    Value w = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 32);
    return gpu::ShuffleOp::create(b, loc, x, o, w, gpu::ShuffleMode::XOR).getShuffleResult();
  }

  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bRegs, ArrayRef<Value> acc) {
    auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    Value d = NVVM::MmaOp::create(
        b, loc, resultType, a, bRegs, acc, {16, 8, 16}, std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
    SmallVector<Value> next;
    for (int64_t i = 0; i < 4; ++i)
      next.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
    return next;
  }
};

} // namespace

LaunchShape mlir::tetra::buildFlashAttention(OpBuilder &builder, gpu::GPUFuncOp kernel,
                                             Location loc, Value query, Value key, Value value,
                                             Value result, Value queryPosition,
                                             const AttentionShape &s) {
  Emitter e{builder, loc};
  IndexMath &m = e.m;
  OpBuilder &b = builder;
  MLIRContext *ctx = b.getContext();
  const int64_t d = s.headDim, dSteps = d / 16, dTiles = d / 8;
  const int64_t queryTiles = ceilDiv(s.queries, kQueryTile);

  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  // Rows padded by 8 bf16 against bank conflicts between a fragment's rows.
  auto tileType = MemRefType::get({kKeyTile, d + 8}, b.getBF16Type(), MemRefLayoutAttrInterface{},
                                  workgroup);
  Value keys = kernel.addWorkgroupAttribution(tileType, loc);
  Value values = kernel.addWorkgroupAttribution(tileType, loc);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value lane = m.rem(tid, 32), warp = m.div(tid, 32);
  Value g = m.div(lane, 4), t2 = m.mul(m.rem(lane, 4), 2);
  Value queryTile = m.rem(bid, queryTiles), rest = m.div(bid, queryTiles);
  Value head = m.rem(rest, s.heads), batch = m.div(rest, s.heads);
  Value kvHead = m.div(head, s.heads / s.kvHeads);
  Value blockFirst = m.mul(queryTile, kQueryTile);
  Value row0 = m.add(m.add(blockFirst, m.mul(warp, 16)), g), row1 = m.add(row0, 8);
  Value rows[2] = {row0, row1};

  // Query s sits at position base + s.
  Value base = queryPosition
                   ? arith::IndexCastOp::create(b, loc, b.getIndexType(), queryPosition).getResult()
                   : m.c(s.keys - s.queries);
  // Keys a block needs: up to its last query's position (causal), from its
  // first query's window start, in whole tiles.
  Value keyEnd = m.c(s.keys);
  if (s.causal)
    keyEnd = arith::MinUIOp::create(b, loc, keyEnd, m.add(m.add(base, blockFirst), kQueryTile));
  Value keyBegin = m.c(0);
  if (s.window) {
    Value start = arith::SubIOp::create(b, loc, m.add(m.add(base, blockFirst), 1), m.c(*s.window));
    keyBegin = m.mul(m.div(arith::MaxSIOp::create(b, loc, start, m.c(0)), kKeyTile), kKeyTile);
  }

  // The warp's query fragments (A of the score product), loaded once.
  SmallVector<SmallVector<Value>> queryRegs(dSteps);
  for (int64_t kk = 0; kk < dSteps; ++kk)
    for (int r = 0; r < 4; ++r) {
      Value row = rows[r % 2];
      Value col = m.add(t2, kk * 16 + 8 * (r / 2));
      Value inside = m.less(row, s.queries);
      auto at = [&](Value c) {
        return e.bf16(e.guardedLoad(query, {batch, row, head, c}, inside, 1));
      };
      queryRegs[kk].push_back(packBf16Pair(m, at(col), at(m.add(col, 1))));
    }

  // Loop state: running maximum and sum of rows g and g+8, then the output
  // accumulators (dTiles tiles of four).
  SmallVector<Value> init{e.f(kMasked), e.f(kMasked), e.f(0.0f), e.f(0.0f)};
  init.append(dTiles * 4, e.f(0.0f));
  auto loop = scf::ForOp::create(
      b, loc, keyBegin, keyEnd, m.c(kKeyTile), init,
      [&](OpBuilder &nb, Location, Value keyFirst, ValueRange state) {
        Emitter n{nb, loc};
        IndexMath &nm = n.m;
        // Stage this tile of keys and values (bf16), d-contiguous reads.
        scf::ForOp::create(
            nb, loc, tid, nm.c(kKeyTile * d), nm.c(kWarps * 32), ValueRange{},
            [&](OpBuilder &sb, Location, Value linear, ValueRange) {
              Emitter st{sb, loc};
              Value j = st.m.div(linear, d), c = st.m.rem(linear, d);
              Value k = st.m.add(keyFirst, j);
              Value inside = st.m.less(k, s.keys);
              for (auto [memory, tile] : {std::pair{key, keys}, std::pair{value, values}})
                memref::StoreOp::create(
                    sb, loc, st.bf16(st.guardedLoad(memory, {batch, k, kvHead, c}, inside, 1)),
                    tile, ValueRange{j, c});
              scf::YieldOp::create(sb, loc);
            });
        gpu::BarrierOp::create(nb, loc);

        // Scores: 8 tiles of 16x8, scaled and masked.
        SmallVector<SmallVector<Value>> score(kKeyTile / 8);
        for (int64_t tile = 0; tile < kKeyTile / 8; ++tile) {
          SmallVector<Value> acc(4, n.f(0.0f));
          Value keyRow = nm.add(g, tile * 8);
          for (int64_t kk = 0; kk < dSteps; ++kk) {
            SmallVector<Value> bRegs;
            for (int r = 0; r < 2; ++r) {
              Value c = nm.add(t2, kk * 16 + 8 * r);
              bRegs.push_back(packBf16Pair(
                  nm, memref::LoadOp::create(nb, loc, keys, ValueRange{keyRow, c}),
                  memref::LoadOp::create(nb, loc, keys, ValueRange{keyRow, nm.add(c, 1)})));
            }
            acc = n.mma(queryRegs[kk], bRegs, acc);
          }
          for (int64_t i = 0; i < 4; ++i) {
            Value k = nm.add(keyFirst, nm.add(t2, tile * 8 + i % 2));
            Value position = nm.add(base, rows[i / 2]);
            Value visible = nm.less(k, s.keys);
            if (s.causal)
              visible = n.both(visible, n.cmp(arith::CmpIPredicate::ule, k, position));
            if (s.window)
              visible = n.both(visible, n.cmp(arith::CmpIPredicate::ugt, nm.add(k, *s.window),
                                               position));
            Value scaled = n.mulf(acc[i], n.f(static_cast<float>(s.scale)));
            score[tile].push_back(n.select(visible, scaled, n.f(kMasked)));
          }
        }

        // Online softmax per row half h (rows g and g+8).
        SmallVector<Value> next(state.begin(), state.end());
        Value alpha[2], newMax[2];
        for (int h = 0; h < 2; ++h) {
          Value top = state[h];
          for (auto &tile : score)
            top = n.maxf(top, n.maxf(tile[2 * h], tile[2 * h + 1]));
          top = n.maxf(top, n.shuffleXor(top, 1));
          top = n.maxf(top, n.shuffleXor(top, 2));
          newMax[h] = top;
          alpha[h] = n.exp(n.subf(state[h], top));
          next[h] = top;
        }
        Value rowSum[2] = {n.f(0.0f), n.f(0.0f)};
        for (auto &tile : score)
          for (int64_t i = 0; i < 4; ++i) {
            tile[i] = n.exp(n.subf(tile[i], newMax[i / 2]));
            rowSum[i / 2] = n.addf(rowSum[i / 2], tile[i]);
          }
        for (int h = 0; h < 2; ++h) {
          Value sum = n.addf(rowSum[h], n.shuffleXor(rowSum[h], 1));
          sum = n.addf(sum, n.shuffleXor(sum, 2));
          next[2 + h] = n.addf(n.mulf(state[2 + h], alpha[h]), sum);
        }
        for (int64_t i = 0; i < dTiles * 4; ++i)
          next[4 + i] = n.mulf(state[4 + i], alpha[(i % 4) / 2]);

        // Output += probabilities (A, from two adjacent score tiles) x values.
        for (int64_t kk = 0; kk < kKeyTile / 16; ++kk) {
          const SmallVector<Value> &left = score[2 * kk], &right = score[2 * kk + 1];
          SmallVector<Value> aRegs{
              packBf16Pair(nm, n.bf16(left[0]), n.bf16(left[1])),
              packBf16Pair(nm, n.bf16(left[2]), n.bf16(left[3])),
              packBf16Pair(nm, n.bf16(right[0]), n.bf16(right[1])),
              packBf16Pair(nm, n.bf16(right[2]), n.bf16(right[3]))};
          for (int64_t tile = 0; tile < dTiles; ++tile) {
            Value c = nm.add(g, tile * 8);
            SmallVector<Value> bRegs;
            for (int r = 0; r < 2; ++r) {
              Value j = nm.add(t2, kk * 16 + 8 * r);
              bRegs.push_back(packBf16Pair(
                  nm, memref::LoadOp::create(nb, loc, values, ValueRange{j, c}),
                  memref::LoadOp::create(nb, loc, values, ValueRange{nm.add(j, 1), c})));
            }
            ArrayRef<Value> acc = ArrayRef<Value>(next).slice(4 + tile * 4, 4);
            SmallVector<Value> updated = n.mma(aRegs, bRegs, acc);
            std::copy(updated.begin(), updated.end(), next.begin() + 4 + tile * 4);
          }
        }
        // The tiles are overwritten next time round only once every warp
        // has read them.
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, next);
      });

  // out = accumulators / row sums, rows inside the sequence only.
  for (int64_t tile = 0; tile < dTiles; ++tile)
    for (int64_t i = 0; i < 4; ++i) {
      Value row = rows[i / 2];
      Value c = m.add(t2, tile * 8 + i % 2);
      auto guard = scf::IfOp::create(b, loc, m.less(row, s.queries), /*withElseRegion=*/false);
      OpBuilder::InsertionGuard ig(b);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      Value normalised = arith::DivFOp::create(b, loc, loop.getResult(4 + tile * 4 + i),
                                               loop.getResult(2 + i / 2));
      memref::StoreOp::create(b, loc, normalised, result, ValueRange{batch, row, head, c});
    }
  return {s.batch * s.heads * queryTiles, kWarps * 32};
}
