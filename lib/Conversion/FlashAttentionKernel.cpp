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
  Value shuffleXor(Value x, int32_t offset, int32_t width = 32) {
    Value o = arith::ConstantIntOp::create(b, loc, b.getI32Type(), offset);
    Value w = arith::ConstantIntOp::create(b, loc, b.getI32Type(), width);
    return gpu::ShuffleOp::create(b, loc, x, o, w, gpu::ShuffleMode::XOR).getShuffleResult();
  }

  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bRegs, ArrayRef<Value> acc) {
    return mmaSyncBf16(b, loc, a, bRegs, acc);
  }
};

/// What both instruction sets' kernels share: the block's head and queries,
/// the keys it needs, the shared key and value tiles and their staging.
struct Setup {
  Value keys, values; // kKeyTile x (d + 8) bf16 in shared memory
  Value tid, batch, head, kvHead, blockFirst;
  Value base;                 // query s sits at position base + s
  Value keyBegin, keyEnd;     // whole key tiles the block can see
  int64_t threads, queryTiles;

  Setup(Emitter &e, gpu::GPUFuncOp kernel, Value queryPosition, const AttentionShape &s,
        int64_t lanes) {
    IndexMath &m = e.m;
    OpBuilder &b = e.b;
    Location loc = e.loc;
    threads = kWarps * lanes;
    queryTiles = ceilDiv(s.queries, kQueryTile);
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    // Rows padded by 8 bf16 against bank conflicts between a fragment's rows.
    auto tileType = MemRefType::get({kKeyTile, s.headDim + 8}, b.getBF16Type(),
                                    MemRefLayoutAttrInterface{}, workgroup);
    keys = kernel.addWorkgroupAttribution(tileType, loc);
    values = kernel.addWorkgroupAttribution(tileType, loc);
    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value queryTile = m.rem(bid, queryTiles), rest = m.div(bid, queryTiles);
    head = m.rem(rest, s.heads);
    batch = m.div(rest, s.heads);
    kvHead = m.div(head, s.heads / s.kvHeads);
    blockFirst = m.mul(queryTile, kQueryTile);
    base = queryPosition
               ? arith::IndexCastOp::create(b, loc, b.getIndexType(), queryPosition).getResult()
               : m.c(s.keys - s.queries);
    // Up to the block's last query's position (causal), from its first
    // query's window start.
    keyEnd = m.c(s.keys);
    if (s.causal)
      keyEnd = arith::MinUIOp::create(b, loc, keyEnd, m.add(m.add(base, blockFirst), kQueryTile));
    keyBegin = m.c(0);
    if (s.window) {
      Value start =
          arith::SubIOp::create(b, loc, m.add(m.add(base, blockFirst), 1), m.c(*s.window));
      keyBegin = m.mul(m.div(arith::MaxSIOp::create(b, loc, start, m.c(0)), kKeyTile), kKeyTile);
    }
  }

  /// Stages the tile of keys and values from `keyFirst` (bf16, zero past
  /// the end), d-contiguous reads; a barrier follows.
  void stage(OpBuilder &nb, Location loc, Value key, Value value, Value keyFirst,
             const AttentionShape &s) const {
    IndexMath nm{nb, loc};
    int64_t d = s.headDim;
    scf::ForOp::create(
        nb, loc, tid, nm.c(kKeyTile * d), nm.c(threads), ValueRange{},
        [&](OpBuilder &sb, Location, Value linear, ValueRange) {
          Emitter st{sb, loc};
          Value j = st.m.div(linear, d), c = st.m.rem(linear, d);
          Value k = st.m.add(keyFirst, j);
          Value inside = st.m.less(k, s.keys);
          for (auto [memory, tile] : {std::pair{key, keys}, std::pair{value, values}})
            memref::StoreOp::create(
                sb, loc, st.bf16(st.guardedLoad(memory, {batch, k, kvHead, c}, inside, 1)), tile,
                ValueRange{j, c});
          scf::YieldOp::create(sb, loc);
        });
    gpu::BarrierOp::create(nb, loc);
  }

  /// The score of query `row` for key `k`, scaled, or kMasked where the
  /// mask hides the key.
  Value masked(Emitter &n, const AttentionShape &s, Value score, Value k, Value row) const {
    IndexMath &nm = n.m;
    Value position = nm.add(base, row);
    Value visible = nm.less(k, s.keys);
    if (s.causal)
      visible = n.both(visible, n.cmp(arith::CmpIPredicate::ule, k, position));
    if (s.window)
      visible =
          n.both(visible, n.cmp(arith::CmpIPredicate::ugt, nm.add(k, *s.window), position));
    Value scaled = n.mulf(score, n.f(static_cast<float>(s.scale)));
    return n.select(visible, scaled, n.f(kMasked));
  }

  /// out[row, c] = accumulator / row sum, rows inside the sequence only.
  void write(Emitter &e, const AttentionShape &s, Value result, Value row, Value c, Value acc,
             Value sum) const {
    auto guard = scf::IfOp::create(e.b, e.loc, e.m.less(row, s.queries), false);
    OpBuilder::InsertionGuard ig(e.b);
    e.b.setInsertionPoint(guard.thenBlock()->getTerminator());
    Value normalised = arith::DivFOp::create(e.b, e.loc, acc, sum);
    memref::StoreOp::create(e.b, e.loc, normalised, result, ValueRange{batch, row, head, c});
  }
};

/// mma.sync: each lane holds rows g and g+8 of its warp's 16.
LaunchShape buildMmaSyncFlash(Emitter &e, gpu::GPUFuncOp kernel, Value query, Value key,
                              Value value, Value result, Value queryPosition,
                              const AttentionShape &s) {
  IndexMath &m = e.m;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t d = s.headDim, dSteps = d / 16, dTiles = d / 8;
  Setup setup(e, kernel, queryPosition, s, 32);
  Value tid = setup.tid, batch = setup.batch, head = setup.head;
  Value keys = setup.keys, values = setup.values;
  Value lane = m.rem(tid, 32), warp = m.div(tid, 32);
  Value g = m.div(lane, 4), t2 = m.mul(m.rem(lane, 4), 2);
  Value row0 = m.add(m.add(setup.blockFirst, m.mul(warp, 16)), g), row1 = m.add(row0, 8);
  Value rows[2] = {row0, row1};

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
      b, loc, setup.keyBegin, setup.keyEnd, m.c(kKeyTile), init,
      [&](OpBuilder &nb, Location, Value keyFirst, ValueRange state) {
        Emitter n{nb, loc};
        IndexMath &nm = n.m;
        setup.stage(nb, loc, key, value, keyFirst, s);

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
            score[tile].push_back(setup.masked(n, s, acc[i], k, rows[i / 2]));
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

  for (int64_t tile = 0; tile < dTiles; ++tile)
    for (int64_t i = 0; i < 4; ++i)
      setup.write(e, s, result, rows[i / 2], m.add(t2, tile * 8 + i % 2),
              loop.getResult(4 + tile * 4 + i), loop.getResult(2 + i / 2));
  return {s.batch * s.heads * setup.queryTiles, setup.threads};
}

/// MFMA 16x16x16: a score tile's accumulators sit at rows 4 (l / 16) + i,
/// column l % 16 of lane l, but the A operand of the value product wants
/// row l % 16, columns 4 (l / 16) + i: the probabilities go through shared
/// memory. A row's 16 lanes (same l / 16) combine maxima and sums with four
/// xor shuffles.
LaunchShape buildMfmaFlash(Emitter &e, gpu::GPUFuncOp kernel, Value query, Value key, Value value,
                           Value result, Value queryPosition, const AttentionShape &s) {
  IndexMath &m = e.m;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t d = s.headDim, dSteps = d / 16, dTiles = d / 16;
  Setup setup(e, kernel, queryPosition, s, 64);
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  Value probs = kernel.addWorkgroupAttribution(
      MemRefType::get({kWarps, 16, kKeyTile}, b.getBF16Type(), MemRefLayoutAttrInterface{},
                      workgroup),
      loc);
  Value lane = m.rem(setup.tid, 64), wave = m.div(setup.tid, 64);
  Value lane16 = m.rem(lane, 16), quad = m.mul(m.div(lane, 16), 4);
  Value first = m.add(setup.blockFirst, m.mul(wave, 16));
  Value ownRow = m.add(first, lane16); // the A operands' row
  SmallVector<Value> rows;             // the accumulators' rows
  for (int64_t i = 0; i < 4; ++i)
    rows.push_back(m.add(first, m.add(quad, i)));

  SmallVector<SmallVector<Value>> queryOps(dSteps);
  for (int64_t kk = 0; kk < dSteps; ++kk)
    for (int64_t i = 0; i < 4; ++i)
      queryOps[kk].push_back(e.bf16(e.guardedLoad(query,
                                                  {setup.batch, ownRow, setup.head,
                                                   m.add(quad, kk * 16 + i)},
                                                  m.less(ownRow, s.queries), 1)));

  // Loop state: running maximum and sum of the lane's four rows, then the
  // output accumulators (dTiles tiles of four).
  SmallVector<Value> init(4, e.f(kMasked));
  init.append(4, e.f(0.0f));
  init.append(dTiles * 4, e.f(0.0f));
  auto loop = scf::ForOp::create(
      b, loc, setup.keyBegin, setup.keyEnd, m.c(kKeyTile), init,
      [&](OpBuilder &nb, Location, Value keyFirst, ValueRange state) {
        Emitter n{nb, loc};
        IndexMath &nm = n.m;
        setup.stage(nb, loc, key, value, keyFirst, s);

        // Scores: 4 tiles of 16x16, scaled and masked.
        SmallVector<SmallVector<Value>> score(kKeyTile / 16);
        for (int64_t tile = 0; tile < kKeyTile / 16; ++tile) {
          SmallVector<Value> acc(4, n.f(0.0f));
          Value keyRow = nm.add(lane16, tile * 16);
          for (int64_t kk = 0; kk < dSteps; ++kk) {
            SmallVector<Value> bVals;
            for (int64_t i = 0; i < 4; ++i)
              bVals.push_back(memref::LoadOp::create(
                  nb, loc, setup.keys, ValueRange{keyRow, nm.add(quad, kk * 16 + i)}));
            acc = mfmaBf16(nb, loc, queryOps[kk], bVals, acc);
          }
          Value k = nm.add(keyFirst, keyRow);
          for (int64_t i = 0; i < 4; ++i)
            score[tile].push_back(setup.masked(n, s, acc[i], k, rows[i]));
        }

        // Online softmax per row i.
        SmallVector<Value> next(state.begin(), state.end());
        Value alpha[4];
        for (int64_t i = 0; i < 4; ++i) {
          Value top = state[i];
          for (auto &tile : score)
            top = n.maxf(top, tile[i]);
          for (int32_t offset : {1, 2, 4, 8})
            top = n.maxf(top, n.shuffleXor(top, offset, 64));
          alpha[i] = n.exp(n.subf(state[i], top));
          Value sum = n.f(0.0f);
          for (auto &tile : score) {
            tile[i] = n.exp(n.subf(tile[i], top));
            sum = n.addf(sum, tile[i]);
          }
          for (int32_t offset : {1, 2, 4, 8})
            sum = n.addf(sum, n.shuffleXor(sum, offset, 64));
          next[i] = top;
          next[4 + i] = n.addf(n.mulf(state[4 + i], alpha[i]), sum);
        }
        for (int64_t j = 0; j < dTiles * 4; ++j)
          next[8 + j] = n.mulf(state[8 + j], alpha[j % 4]);

        // The probabilities to shared memory, transposed into A's layout.
        for (int64_t tile = 0; tile < kKeyTile / 16; ++tile)
          for (int64_t i = 0; i < 4; ++i)
            memref::StoreOp::create(nb, loc, n.bf16(score[tile][i]), probs,
                                    ValueRange{wave, nm.add(quad, i), nm.add(lane16, tile * 16)});
        gpu::BarrierOp::create(nb, loc);
        for (int64_t kk = 0; kk < kKeyTile / 16; ++kk) {
          SmallVector<Value> aVals;
          for (int64_t i = 0; i < 4; ++i)
            aVals.push_back(memref::LoadOp::create(
                nb, loc, probs, ValueRange{wave, lane16, nm.add(quad, kk * 16 + i)}));
          for (int64_t tile = 0; tile < dTiles; ++tile) {
            SmallVector<Value> bVals;
            for (int64_t i = 0; i < 4; ++i)
              bVals.push_back(memref::LoadOp::create(
                  nb, loc, setup.values,
                  ValueRange{nm.add(quad, kk * 16 + i), nm.add(lane16, tile * 16)}));
            ArrayRef<Value> acc = ArrayRef<Value>(next).slice(8 + tile * 4, 4);
            SmallVector<Value> updated = mfmaBf16(nb, loc, aVals, bVals, acc);
            std::copy(updated.begin(), updated.end(), next.begin() + 8 + tile * 4);
          }
        }
        // Tiles and probabilities are overwritten next time round only once
        // every wave has read them.
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, next);
      });

  for (int64_t tile = 0; tile < dTiles; ++tile)
    for (int64_t i = 0; i < 4; ++i)
      setup.write(e, s, result, rows[i], m.add(lane16, tile * 16),
                  loop.getResult(8 + tile * 4 + i), loop.getResult(4 + i));
  return {s.batch * s.heads * setup.queryTiles, setup.threads};
}

} // namespace

LaunchShape mlir::tetra::buildFlashAttention(OpBuilder &builder, gpu::GPUFuncOp kernel,
                                             Location loc, StringRef target, Value query,
                                             Value key, Value value, Value result,
                                             Value queryPosition, const AttentionShape &shape) {
  Emitter e{builder, loc};
  if (target == "rocdl")
    return buildMfmaFlash(e, kernel, query, key, value, result, queryPosition, shape);
  return buildMmaSyncFlash(e, kernel, query, key, value, result, queryPosition, shape);
}
