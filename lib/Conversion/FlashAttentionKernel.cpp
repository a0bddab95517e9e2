//===- FlashAttentionKernel.cpp - attention as tensor-core kernels --------===//
//
// Every kernel here is four warps (waves) of 16 rows each, and every step
// is one of three warp-wide products (MatrixCore): a 16 x d operand A held
// in registers times a 64 x d shared-memory tile, transposed (scores); a
// 16 x 64 product's accumulators times a 64 x d tile (probabilities times
// values); and row reductions of accumulators across the lanes that share
// a row.
//
// mma.sync m16n8k16 (PTX ISA fragments, g = lane / 4, t = lane % 4): an
// accumulator tile's c0..c3 sit at rows g, g+8 and columns 2t, 2t+1, which
// is also where the A operand of the next product wants them (two adjacent
// 8-column tiles make one 16-deep A fragment), so probabilities go from one
// product to the next in registers; a quad's four lanes share rows.
// v_mfma 16x16x16 (lane l): accumulators at rows 4 (l / 16) + i, column
// l % 16, but A wants row l % 16, columns 4 (l / 16) + i, so they go
// through shared memory; the 16 lanes with the same l / 16 share rows.
//
// Masked scores are -1e30, not -inf, so a row whose keys so far are all
// masked keeps finite state; the first real score rescales that state by
// exp(-1e30 - m) = 0, and the backward's exp(-1e30 - lse) is 0 too.
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

constexpr int64_t kWarps = 4, kRowTile = 16 * kWarps, kTile = 64;
constexpr float kMasked = -1.0e30f;

struct Emitter {
  OpBuilder &b;
  Location loc;
  IndexMath m{b, loc};

  Value f(float v) { return arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(v)); }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value bf16(Value x) { return arith::TruncFOp::create(b, loc, b.getBF16Type(), x); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value load(Value memory, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memory, indices);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }

  /// memory[indices] if `inside`, else 0; indices are clamped to 0 outside.
  Value guardedLoad(Value memory, SmallVector<Value> indices, Value inside, unsigned guarded) {
    indices[guarded] = select(inside, indices[guarded], m.c(0));
    return select(inside, load(memory, indices), f(0.0f));
  }

  /// The value of `x` in lane (lane ^ offset) of the warp.
  Value shuffleXor(Value x, int32_t offset, int32_t width) {
    Value o = arith::ConstantIntOp::create(b, loc, b.getI32Type(), offset);
    Value w = arith::ConstantIntOp::create(b, loc, b.getI32Type(), width);
    return gpu::ShuffleOp::create(b, loc, x, o, w, gpu::ShuffleMode::XOR).getShuffleResult();
  }

  /// `body` where `condition` holds.
  void when(Value condition, function_ref<void()> body) {
    auto guard = scf::IfOp::create(b, loc, condition, false);
    OpBuilder::InsertionGuard ig(b);
    b.setInsertionPoint(guard.thenBlock()->getTerminator());
    body();
  }
};

/// One warp's (wave's) 16-row products on its target's matrix cores. A
/// 16 x w product is w / tileWidth() accumulator tiles of four values a
/// lane; value j of the flattened list sits at rowOf(j), colOf(j).
struct MatrixCore {
  bool mfma;
  int64_t lanes;
  Value warp;
  Value g, t2;        // mma.sync: lane / 4, 2 (lane % 4)
  Value lane16, quad; // MFMA: lane % 16, 4 (lane / 16)

  MatrixCore(Emitter &e, StringRef target, Value tid)
      : mfma(target == "rocdl"), lanes(mfma ? 64 : 32) {
    IndexMath &m = e.m;
    Value lane = m.rem(tid, lanes);
    warp = m.div(tid, lanes);
    if (mfma) {
      lane16 = m.rem(lane, 16);
      quad = m.mul(m.div(lane, 16), 4);
    } else {
      g = m.div(lane, 4);
      t2 = m.mul(m.rem(lane, 4), 2);
    }
  }

  int64_t tileWidth() const { return mfma ? 16 : 8; }
  /// The distinct rows a lane holds of an accumulator tile.
  int64_t rowSlots() const { return mfma ? 4 : 2; }
  int64_t slotOf(int64_t j) const { return mfma ? j % 4 : (j % 4) / 2; }
  Value slotRow(IndexMath &m, int64_t slot) const {
    return mfma ? m.add(quad, slot) : m.add(g, 8 * slot);
  }
  Value rowOf(IndexMath &m, int64_t j) const { return slotRow(m, slotOf(j)); }
  Value colOf(IndexMath &m, int64_t j) const {
    int64_t tile = j / 4;
    return mfma ? m.add(lane16, tile * 16) : m.add(t2, tile * 8 + j % 2);
  }
  /// Whether this lane is the first of those sharing its rows.
  Value leadsRows(Emitter &n) const {
    return n.cmp(arith::CmpIPredicate::eq, mfma ? lane16 : t2, n.m.c(0));
  }
  /// Accumulator values of a 16 x d product.
  int64_t accumulators(int64_t d) const { return d / tileWidth() * 4; }

  SmallVector<Value> mma(Emitter &n, ArrayRef<Value> a, ArrayRef<Value> bOps,
                         ArrayRef<Value> acc) const {
    return mfma ? mfmaBf16(n.b, n.loc, a, bOps, acc) : mmaSyncBf16(n.b, n.loc, a, bOps, acc);
  }

  /// A's operands for a 16 x d matrix whose bf16 entry (row, col) is
  /// `element(row, col)`, one list per 16 columns.
  SmallVector<SmallVector<Value>> operandA(Emitter &n, int64_t d,
                                           function_ref<Value(Value, Value)> element) const {
    IndexMath &m = n.m;
    SmallVector<SmallVector<Value>> ops(d / 16);
    for (int64_t kk = 0; kk < d / 16; ++kk)
      for (int64_t r = 0; r < 4; ++r) {
        if (mfma) {
          ops[kk].push_back(element(lane16, m.add(quad, kk * 16 + r)));
          continue;
        }
        Value row = slotRow(m, r % 2);
        Value col = m.add(t2, kk * 16 + 8 * (r / 2));
        ops[kk].push_back(packBf16Pair(m, element(row, col), element(row, m.add(col, 1))));
      }
    return ops;
  }

  /// A T^T (16 x width) for T a width x d bf16 tile in shared memory.
  SmallVector<Value> productTransposed(Emitter &n, ArrayRef<SmallVector<Value>> a, Value tile,
                                       int64_t width) const {
    IndexMath &m = n.m;
    SmallVector<Value> out;
    for (int64_t t = 0; t < width / tileWidth(); ++t) {
      SmallVector<Value> acc(4, n.f(0.0f));
      for (auto [kk, aOps] : llvm::enumerate(a)) {
        int64_t k0 = static_cast<int64_t>(kk) * 16;
        SmallVector<Value> bOps;
        // The tile's rows run along d: a lane's B operand is one 64-bit
        // load (MFMA) or two 32-bit loads (mma.sync).
        if (mfma) {
          acc = mfmaBf16(n.b, n.loc, packBf16Quad(m, aOps),
                         loadBf16Run(m, tile, {m.add(lane16, t * 16), m.add(quad, k0)}, 4), acc);
          continue;
        }
        Value row = m.add(g, t * 8);
        for (int64_t r = 0; r < 2; ++r)
          bOps.push_back(loadBf16Pair(m, tile, {row, m.add(t2, k0 + 8 * r)}));
        acc = mma(n, aOps, bOps, acc);
      }
      out.append(acc);
    }
    return out;
  }

  /// acc (a 16 x d product) += P T for P a 16 x width product's
  /// accumulators and T a width x d bf16 tile in shared memory. MFMA takes
  /// P through `scratch` (kWarps x 16 x width bf16), which must not be in
  /// use by an earlier product still being read.
  void accumulate(Emitter &n, MutableArrayRef<Value> acc, ArrayRef<Value> p, Value tile,
                  int64_t width, Value scratch) const {
    IndexMath &m = n.m;
    int64_t dTiles = static_cast<int64_t>(acc.size()) / 4;
    if (mfma) {
      for (auto [j, v] : llvm::enumerate(p))
        memref::StoreOp::create(n.b, n.loc, n.bf16(v), scratch,
                                ValueRange{warp, rowOf(m, j), colOf(m, j)});
      gpu::BarrierOp::create(n.b, n.loc);
    }
    for (int64_t kk = 0; kk < width / 16; ++kk) {
      // MFMA's A: four bf16 of a scratch row, one 64-bit load.
      Value aRun = mfma ? loadBf16Run(m, scratch, {warp, lane16, m.add(quad, kk * 16)}, 4)
                        : Value();
      // mma.sync's A: the probabilities' accumulators, paired in registers.
      SmallVector<Value> aOps;
      if (!mfma)
        for (int64_t r = 0; r < 4; ++r)
          aOps.push_back(
              packBf16Pair(m, n.bf16(p[8 * kk + 2 * r]), n.bf16(p[8 * kk + 2 * r + 1])));
      for (int64_t t = 0; t < dTiles; ++t) {
        SmallVector<Value> bOps, updated;
        if (mfma) {
          // B runs down the tile's rows: four loads.
          Value col = m.add(lane16, t * 16);
          for (int64_t i = 0; i < 4; ++i)
            bOps.push_back(n.load(tile, {m.add(quad, kk * 16 + i), col}));
          updated = mfmaBf16(n.b, n.loc, aRun, packBf16Quad(m, bOps), acc.slice(t * 4, 4));
        } else {
          Value col = m.add(g, t * 8);
          for (int64_t r = 0; r < 2; ++r) {
            Value j = m.add(t2, kk * 16 + 8 * r);
            bOps.push_back(packBf16Pair(m, n.load(tile, {j, col}), n.load(tile, {m.add(j, 1), col})));
          }
          updated = mma(n, aOps, bOps, acc.slice(t * 4, 4));
        }
        std::copy(updated.begin(), updated.end(), acc.begin() + t * 4);
      }
    }
  }

  /// Per row slot: `combine` over this lane's values of the row, from
  /// `init`, then over the lanes that share the row (xor shuffles).
  SmallVector<Value> rowReduce(Emitter &n, ArrayRef<Value> values, ArrayRef<Value> init,
                               function_ref<Value(Value, Value)> combine) const {
    SmallVector<Value> r(init);
    for (auto [j, v] : llvm::enumerate(values))
      r[slotOf(j)] = combine(r[slotOf(j)], v);
    static constexpr int32_t kQuad[] = {1, 2}, kRow16[] = {1, 2, 4, 8};
    for (Value &x : r)
      for (int32_t offset : mfma ? ArrayRef<int32_t>(kRow16) : ArrayRef<int32_t>(kQuad))
        x = combine(x, n.shuffleXor(x, offset, static_cast<int32_t>(lanes)));
    return r;
  }

  /// A shared-memory array for accumulate()'s MFMA staging, or null.
  Value scratch(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc, int64_t width) const {
    if (!mfma)
      return Value();
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    return kernel.addWorkgroupAttribution(
        MemRefType::get({kWarps, 16, width}, b.getBF16Type(), MemRefLayoutAttrInterface{},
                        workgroup),
        loc);
  }

  /// out[batch, first + row, head, col] = finish(j, acc[j]) for rows below
  /// `limit`, rounded to bf16 for a bf16 `out`.
  void store(Emitter &e, ArrayRef<Value> acc, Value out, Value batch, Value first, Value head,
             int64_t limit, function_ref<Value(int64_t, Value)> finish) const {
    bool rounded = llvm::cast<MemRefType>(out.getType()).getElementType().isBF16();
    for (auto [j, v] : llvm::enumerate(acc)) {
      Value row = e.m.add(first, rowOf(e.m, j));
      Value col = colOf(e.m, j);
      e.when(e.m.less(row, limit), [&] {
        Value value = finish(j, v);
        memref::StoreOp::create(e.b, e.loc, rounded ? e.bf16(value) : value, out,
                                ValueRange{batch, row, head, col});
      });
    }
  }
};

MemRefType sharedType(OpBuilder &b, ArrayRef<int64_t> shape, Type element) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  return MemRefType::get(shape, element, MemRefLayoutAttrInterface{}, workgroup);
}

/// A kTile x (d + 8) bf16 tile in shared memory; rows are padded by 8
/// against bank conflicts between a fragment's rows. 16-byte aligned, as
/// stageRows' runs of eight are.
Value sharedTile(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc, int64_t d) {
  Value tile =
      kernel.addWorkgroupAttribution(sharedType(b, {kTile, d + 8}, b.getBF16Type()), loc);
  kernel.setWorkgroupAttributionAttr(kernel.getNumWorkgroupAttributions() - 1,
                                     LLVM::LLVMDialect::getAlignAttrName(),
                                     b.getI64IntegerAttr(16));
  return tile;
}

/// One run of a tile's copy: where it lands in the tile (j, c), the
/// source row it comes from, whether that row is there (inside), and
/// whether the thread has a run this round at all (valid; null where
/// every thread has one).
struct TileRun {
  Value j, c, row, inside, valid;
};

/// The thread's runs of rows [first, first + kTile) of a tile of width
/// `d`, `run` elements each, rows from `limit` on outside: one round of
/// `threads` runs after another, consecutive threads on consecutive runs
/// of a row.
SmallVector<TileRun> tileRuns(Emitter &n, Value tid, int64_t threads, int64_t run, Value first,
                              Value limit, int64_t d) {
  IndexMath &m = n.m;
  int64_t total = kTile * d / run, rounds = ceilDiv(total, threads);
  SmallVector<TileRun> runs;
  for (int64_t r = 0; r < rounds; ++r) {
    Value linear = m.add(tid, r * threads);
    Value j = m.div(linear, d / run), c = m.mul(m.rem(linear, d / run), run);
    Value row = m.add(first, j);
    Value valid = (r + 1) * threads > total ? m.less(linear, total) : Value();
    Value inside = m.less(row, limit);
    if (valid)
      inside = n.both(inside, valid);
    runs.push_back({j, c, row, inside, valid});
  }
  return runs;
}

/// Rows [first, first + kTile) of `source` ([B, rows, heads, d] at batch,
/// head) into `tile` as bf16, zero from `limit` on, in runs along d
/// (copyRun's; d and d + 8 are multiples of it, so every run stays aligned
/// in the tile too). The copy is unrolled, and each thread issues all its
/// loads before it stores any, so their latencies overlap (a loop of one
/// run a trip waits for each load in turn).
void stageTile(Emitter &n, Value tid, int64_t threads, Value source, Value tile, Value batch,
               Value head, Value first, int64_t limit, int64_t d) {
  IndexMath &m = n.m;
  int64_t run = copyRun(llvm::cast<MemRefType>(source.getType()));
  SmallVector<TileRun> runs = tileRuns(n, tid, threads, run, first, m.c(limit), d);
  SmallVector<Value> values;
  for (const TileRun &r : runs)
    values.push_back(loadBf16Guarded(m, source, {batch, r.row, head, r.c}, r.inside, run));
  for (auto [r, value] : llvm::zip(runs, values)) {
    if (r.valid)
      n.when(r.valid, [&] { storeBf16Run(m, value, tile, ValueRange{r.j, r.c}); });
    else
      storeBf16Run(m, value, tile, ValueRange{r.j, r.c});
  }
}

/// stageTile for a bf16 `source` (copiesAsynchronously) without waiting:
/// the thread's runs start as asynchronous copies, committed as one group,
/// which is returned. Rows from `limit` on land as zeros and are not read.
Value stageTileAsync(Emitter &n, Value tid, int64_t threads, Value source, Value tile,
                     Value batch, Value head, Value first, Value limit, int64_t d) {
  IndexMath &m = n.m;
  SmallVector<Value> copies;
  for (const TileRun &r : tileRuns(n, tid, threads, kAsyncRun, first, limit, d)) {
    auto copy = [&] {
      return copyRunAsync(m, source, {batch, r.row, head, r.c}, r.inside, tile, {r.j, r.c});
    };
    if (r.valid) // the commit takes every copy started before it, named or not
      n.when(r.valid, [&] { copy(); });
    else
      copies.push_back(copy());
  }
  return commitCopies(m, copies);
}

/// Rows [first, first + kTile) of each row source ([B, rows, heads] f32,
/// zero from `limit` on) into its shared vector, no barrier.
void stageVectors(Emitter &n, Value tid, int64_t threads,
                  ArrayRef<std::pair<Value, Value>> vectors, Value batch, Value head,
                  Value first, int64_t limit) {
  if (vectors.empty())
    return;
  scf::ForOp::create(n.b, n.loc, tid, n.m.c(kTile), n.m.c(threads), ValueRange{},
                     [&](OpBuilder &sb, Location loc, Value j, ValueRange) {
                       Emitter st{sb, loc};
                       Value row = st.m.add(first, j);
                       Value inside = st.m.less(row, limit);
                       for (auto [source, vector] : vectors)
                         memref::StoreOp::create(
                             st.b, st.loc, st.guardedLoad(source, {batch, row, head}, inside, 1),
                             vector, ValueRange{j});
                       scf::YieldOp::create(sb, loc);
                     });
}

/// Each source's rows into its tile (stageTile, or stageTileAsync where
/// the source copies asynchronously on `target`: those copies all start
/// first and are waited for last), and rows [first, first + kTile) of each
/// row source ([B, rows, heads] f32) into its vector. A barrier follows.
void stageRows(Emitter &n, StringRef target, Value tid, int64_t threads,
               ArrayRef<std::pair<Value, Value>> tiles, ArrayRef<std::pair<Value, Value>> vectors,
               Value batch, Value head, Value first, int64_t limit, int64_t d) {
  IndexMath &m = n.m;
  Value copied; // the last group of asynchronous copies
  SmallVector<std::pair<Value, Value>> throughRegisters;
  for (auto [source, tile] : tiles) {
    if (copiesAsynchronously(target, source))
      copied = stageTileAsync(n, tid, threads, source, tile, batch, head, first, m.c(limit), d);
    else
      throughRegisters.push_back({source, tile});
  }
  for (auto [source, tile] : throughRegisters)
    stageTile(n, tid, threads, source, tile, batch, head, first, limit, d);
  stageVectors(n, tid, threads, vectors, batch, head, first, limit);
  if (copied)
    waitForCopies(m, copied);
  gpu::BarrierOp::create(n.b, n.loc);
}

/// The scaled score of query `row` (at position base + row) for key `k`,
/// or kMasked where the mask or the sequences' ends hide it.
Value maskedScore(Emitter &n, const AttentionShape &s, Value base, Value score, Value k,
                  Value row) {
  IndexMath &m = n.m;
  Value position = m.add(base, row);
  Value visible = n.both(m.less(k, s.keys), m.less(row, s.queries));
  if (s.causal)
    visible = n.both(visible, n.cmp(arith::CmpIPredicate::ule, k, position));
  if (s.window)
    visible = n.both(visible, n.cmp(arith::CmpIPredicate::ugt, m.add(k, *s.window), position));
  Value scaled = n.mulf(score, n.f(static_cast<float>(s.scale)));
  return n.select(visible, scaled, n.f(kMasked));
}

/// What the kernels over blocks of 64 queries (forward, query gradient)
/// share: the block's head and queries, the key tiles it needs, the shared
/// key and value tiles, and its warp's matrix-core view.
struct QueryBlock {
  Value keys, values, scratch;
  Value tid, batch, head, kvHead, first; // first: the warp's first query
  Value base;                            // query s sits at position base + s
  Value keyBegin, keyEnd;                // whole key tiles the block can see
  int64_t threads, blocks;
  StringRef target;
  MatrixCore core;

  QueryBlock(Emitter &e, gpu::GPUFuncOp kernel, StringRef target, Value queryPosition,
             const AttentionShape &s)
      : tid(gpu::ThreadIdOp::create(e.b, e.loc, gpu::Dimension::x)), target(target),
        core(e, target, tid) {
    IndexMath &m = e.m;
    OpBuilder &b = e.b;
    Location loc = e.loc;
    threads = kWarps * core.lanes;
    int64_t queryTiles = ceilDiv(s.queries, kRowTile);
    blocks = s.batch * s.heads * queryTiles;
    keys = sharedTile(b, kernel, loc, s.headDim);
    values = sharedTile(b, kernel, loc, s.headDim);
    scratch = core.scratch(b, kernel, loc, kTile);
    Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value queryTile = m.rem(bid, queryTiles), rest = m.div(bid, queryTiles);
    head = m.rem(rest, s.heads);
    batch = m.div(rest, s.heads);
    kvHead = m.div(head, s.heads / s.kvHeads);
    Value blockFirst = m.mul(queryTile, kRowTile);
    first = m.add(blockFirst, m.mul(core.warp, 16));
    base = queryPosition
               ? arith::IndexCastOp::create(b, loc, b.getIndexType(), queryPosition).getResult()
               : m.c(s.keys - s.queries);
    // Up to the block's last query's position (causal), from its first
    // query's window start.
    keyEnd = m.c(s.keys);
    if (s.causal)
      keyEnd = arith::MinUIOp::create(b, loc, keyEnd, m.add(m.add(base, blockFirst), kRowTile));
    keyBegin = m.c(0);
    if (s.window) {
      Value start =
          arith::SubIOp::create(b, loc, m.add(m.add(base, blockFirst), 1), m.c(*s.window));
      keyBegin = m.mul(m.div(arith::MaxSIOp::create(b, loc, start, m.c(0)), kTile), kTile);
    }
  }

  /// A's operands for the warp's 16 rows of `source` ([B, S, Hq, d]).
  SmallVector<SmallVector<Value>> rowsOf(Emitter &e, Value source, const AttentionShape &s) const {
    return core.operandA(e, s.headDim, [&](Value r, Value c) {
      Value row = e.m.add(first, r);
      return loadBf16Guarded(e.m, source, {batch, row, head, c}, e.m.less(row, s.queries), 1);
    });
  }

  /// Loops over the key tiles, staging keys and values for `body`, which
  /// returns the next loop state; a barrier ends each step, so the tiles
  /// are overwritten only once every warp has read them.
  scf::ForOp overKeys(Emitter &e, Value key, Value value, const AttentionShape &s,
                      ValueRange init,
                      function_ref<SmallVector<Value>(Emitter &, Value, ValueRange)> body) const {
    return scf::ForOp::create(
        e.b, e.loc, keyBegin, keyEnd, e.m.c(kTile), init,
        [&](OpBuilder &nb, Location loc, Value keyFirst, ValueRange state) {
          Emitter n{nb, loc};
          stageRows(n, target, tid, threads, {{key, keys}, {value, values}}, {}, batch, kvHead,
                    keyFirst, s.keys, s.headDim);
          SmallVector<Value> next = body(n, keyFirst, state);
          gpu::BarrierOp::create(nb, loc);
          scf::YieldOp::create(nb, loc, next);
        });
  }

  /// overKeys with the tiles' copies in flight beside the products, for
  /// keys and values that copy asynchronously (copiesAsynchronously): a
  /// step's value tile lands while the warps score its key tile
  /// (`scoresStep`, whose results go to `valuesStep`), and the next key
  /// tile while they add up the values. Each tile has one buffer and a step
  /// two barriers, as in overKeys: after the scores, the values have landed
  /// and the key tile is free; at the end, the next keys have landed and
  /// the value tile is free.
  scf::ForOp overKeysPipelined(
      Emitter &e, Value key, Value value, const AttentionShape &s, ValueRange init,
      function_ref<SmallVector<Value>(Emitter &, Value, ValueRange)> scoresStep,
      function_ref<SmallVector<Value>(Emitter &, Value, ValueRange)> valuesStep) const {
    waitForCopies(e.m, stageTileAsync(e, tid, threads, key, keys, batch, kvHead, keyBegin, keyEnd,
                                      s.headDim));
    gpu::BarrierOp::create(e.b, e.loc);
    return scf::ForOp::create(
        e.b, e.loc, keyBegin, keyEnd, e.m.c(kTile), init,
        [&](OpBuilder &nb, Location loc, Value keyFirst, ValueRange state) {
          Emitter n{nb, loc};
          Value valuesCopied = stageTileAsync(n, tid, threads, value, values, batch, kvHead,
                                              keyFirst, keyEnd, s.headDim);
          SmallVector<Value> scored = scoresStep(n, keyFirst, state);
          waitForCopies(n.m, valuesCopied);
          gpu::BarrierOp::create(nb, loc);
          Value nextKeysCopied = stageTileAsync(n, tid, threads, key, keys, batch, kvHead,
                                                n.m.add(keyFirst, kTile), keyEnd, s.headDim);
          SmallVector<Value> next = valuesStep(n, keyFirst, scored);
          waitForCopies(n.m, nextKeysCopied);
          gpu::BarrierOp::create(nb, loc);
          scf::YieldOp::create(nb, loc, next);
        });
  }

  /// The scores of the warp's rows for the key tile from `keyFirst`,
  /// staged in `tile` (the keys' buffer unless given), scaled and masked.
  SmallVector<Value> scores(Emitter &n, ArrayRef<SmallVector<Value>> queryOps, Value keyFirst,
                            const AttentionShape &s, Value tile = {}) const {
    SmallVector<Value> score = core.productTransposed(n, queryOps, tile ? tile : keys, kTile);
    for (auto [j, v] : llvm::enumerate(score))
      v = maskedScore(n, s, base, v, n.m.add(keyFirst, core.colOf(n.m, j)),
                      n.m.add(first, core.rowOf(n.m, j)));
    return score;
  }
};

LaunchShape buildForward(Emitter &e, gpu::GPUFuncOp kernel, StringRef target, Value query,
                         Value key, Value value, Value result, Value logsumexp,
                         Value queryPosition, const AttentionShape &s) {
  QueryBlock block(e, kernel, target, queryPosition, s);
  const MatrixCore &core = block.core;
  const int64_t slots = core.rowSlots(), accs = core.accumulators(s.headDim);
  SmallVector<SmallVector<Value>> queryOps = block.rowsOf(e, query, s);

  // Loop state: running maximum and sum of the lane's rows, then the
  // output accumulators.
  SmallVector<Value> init(slots, e.f(kMasked));
  init.append(slots, e.f(0.0f));
  init.append(accs, e.f(0.0f));
  const int64_t stateSize = static_cast<int64_t>(init.size());
  // The step in two: the scores' softmax and the rescaled state (with the
  // probabilities after it), then the probabilities times the values.
  auto scoresStep = [&](Emitter &n, Value keyFirst, ValueRange state) -> SmallVector<Value> {
    SmallVector<Value> score = block.scores(n, queryOps, keyFirst, s);
    SmallVector<Value> next(state.begin(), state.end());
    SmallVector<Value> top = core.rowReduce(n, score, SmallVector<Value>(state.take_front(slots)),
                                            [&](Value x, Value y) { return n.maxf(x, y); });
    for (auto [j, v] : llvm::enumerate(score))
      v = n.exp(n.subf(v, top[core.slotOf(j)]));
    SmallVector<Value> sum = core.rowReduce(n, score, SmallVector<Value>(slots, n.f(0.0f)),
                                            [&](Value x, Value y) { return n.addf(x, y); });
    SmallVector<Value> alpha;
    for (int64_t h = 0; h < slots; ++h) {
      alpha.push_back(n.exp(n.subf(state[h], top[h])));
      next[h] = top[h];
      next[slots + h] = n.addf(n.mulf(state[slots + h], alpha[h]), sum[h]);
    }
    for (auto [j, v] : llvm::enumerate(MutableArrayRef<Value>(next).drop_front(2 * slots)))
      v = n.mulf(v, alpha[core.slotOf(j)]);
    next.append(score);
    return next;
  };
  auto valuesStep = [&](Emitter &n, Value, ValueRange scored) -> SmallVector<Value> {
    SmallVector<Value> next(scored.take_front(stateSize));
    MutableArrayRef<Value> acc = MutableArrayRef<Value>(next).drop_front(2 * slots);
    core.accumulate(n, acc, SmallVector<Value>(scored.drop_front(stateSize)), block.values, kTile,
                    block.scratch);
    return next;
  };
  bool pipelined =
      copiesAsynchronously(target, key) && copiesAsynchronously(target, value);
  // With the tiles off the registers the kernel fits 168 registers a
  // thread without spilling (ptxas, head_dim 128): three blocks of 128
  // threads an SM instead of the two that 175 allow.
  if (pipelined)
    kernel->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(), e.b.getI32IntegerAttr(3));
  scf::ForOp loop =
      pipelined ? block.overKeysPipelined(e, key, value, s, init, scoresStep, valuesStep)
                : block.overKeys(e, key, value, s, init,
                                 [&](Emitter &n, Value keyFirst, ValueRange state) {
                                   return valuesStep(n, keyFirst, scoresStep(n, keyFirst, state));
                                 });

  SmallVector<Value> acc(loop.getResults().drop_front(2 * slots));
  core.store(e, acc, result, block.batch, block.first, block.head, s.queries,
             [&](int64_t j, Value v) -> Value {
               return arith::DivFOp::create(e.b, e.loc, v, loop.getResult(slots + core.slotOf(j)));
             });
  if (logsumexp)
    for (int64_t h = 0; h < slots; ++h) {
      Value row = e.m.add(block.first, core.slotRow(e.m, h));
      e.when(e.both(e.m.less(row, s.queries), core.leadsRows(e)), [&] {
        Value lse = e.addf(loop.getResult(h), math::LogOp::create(e.b, e.loc, loop.getResult(slots + h)));
        memref::StoreOp::create(e.b, e.loc, lse, logsumexp, ValueRange{block.batch, row, block.head});
      });
    }
  return {block.blocks, block.threads};
}

/// exp(score - lse) and dS = P (dP - delta) scale, value by value; `row(j)`
/// gives the row statistics' index of value j.
void probabilitiesAndScoreGrads(Emitter &n, const AttentionShape &s, MutableArrayRef<Value> score,
                                MutableArrayRef<Value> dP,
                                function_ref<std::pair<Value, Value>(int64_t)> lseAndDelta) {
  for (int64_t j = 0, e = static_cast<int64_t>(score.size()); j < e; ++j) {
    auto [lse, delta] = lseAndDelta(j);
    score[j] = n.exp(n.subf(score[j], lse));
    dP[j] = n.mulf(n.mulf(score[j], n.subf(dP[j], delta)), n.f(static_cast<float>(s.scale)));
  }
}

LaunchShape buildQueryGrad(Emitter &e, gpu::GPUFuncOp kernel, StringRef target,
                           const AttentionGradOperands &in, Value queryGrad,
                           const AttentionShape &s) {
  QueryBlock block(e, kernel, target, Value(), s);
  const MatrixCore &core = block.core;
  SmallVector<SmallVector<Value>> queryOps = block.rowsOf(e, in.query, s);
  SmallVector<SmallVector<Value>> gradOps = block.rowsOf(e, in.grad, s);
  SmallVector<Value> lse, delta;
  for (int64_t h = 0; h < core.rowSlots(); ++h) {
    Value row = e.m.add(block.first, core.slotRow(e.m, h));
    Value inside = e.m.less(row, s.queries);
    lse.push_back(e.guardedLoad(in.logsumexp, {block.batch, row, block.head}, inside, 1));
    delta.push_back(e.guardedLoad(in.delta, {block.batch, row, block.head}, inside, 1));
  }
  const int64_t accs = core.accumulators(s.headDim);
  SmallVector<Value> init(accs, e.f(0.0f));
  // dS = P (dP - delta) and dQ += dS K, with K staged in `keys`.
  auto gradStep = [&](Emitter &n, Value keyFirst, ValueRange state, SmallVector<Value> dP,
                      Value keys) {
    SmallVector<Value> p = block.scores(n, queryOps, keyFirst, s, keys);
    probabilitiesAndScoreGrads(n, s, p, dP, [&](int64_t j) {
      return std::pair{lse[core.slotOf(j)], delta[core.slotOf(j)]};
    });
    SmallVector<Value> next(state.begin(), state.end());
    core.accumulate(n, next, dP, keys, kTile, block.scratch);
    return next;
  };
  scf::ForOp loop;
  if (copiesAsynchronously(target, in.key) && copiesAsynchronously(target, in.value)) {
    // The forward's pipeline with the tiles' roles swapped: the value tile
    // is staged first (in the first buffer) for dP = grad V^T, while the key
    // tile lands; then the scores and dQ read the keys while the next value
    // tile lands.
    loop = block.overKeysPipelined(
        e, in.value, in.key, s, init,
        [&](Emitter &n, Value, ValueRange state) -> SmallVector<Value> {
          SmallVector<Value> next(state.begin(), state.end());
          next.append(core.productTransposed(n, gradOps, block.keys, kTile));
          return next;
        },
        [&](Emitter &n, Value keyFirst, ValueRange scored) -> SmallVector<Value> {
          return gradStep(n, keyFirst, scored.take_front(accs),
                          SmallVector<Value>(scored.drop_front(accs)), block.values);
        });
  } else {
    loop = block.overKeys(e, in.key, in.value, s, init,
                          [&](Emitter &n, Value keyFirst, ValueRange state) -> SmallVector<Value> {
                            SmallVector<Value> dP =
                                core.productTransposed(n, gradOps, block.values, kTile);
                            return gradStep(n, keyFirst, state, dP, block.keys);
                          });
  }
  core.store(e, SmallVector<Value>(loop.getResults()), queryGrad, block.batch, block.first,
             block.head, s.queries, [](int64_t, Value v) { return v; });
  return {block.blocks, block.threads};
}

LaunchShape buildKeyValueGrad(Emitter &e, gpu::GPUFuncOp kernel, StringRef target,
                              const AttentionGradOperands &in, Value keyGrad, Value valueGrad,
                              const AttentionShape &s) {
  IndexMath &m = e.m;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t d = s.headDim, group = s.heads / s.kvHeads;
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  MatrixCore core(e, target, tid);
  const int64_t threads = kWarps * core.lanes, keyTiles = ceilDiv(s.keys, kRowTile);
  Value queries = sharedTile(b, kernel, loc, d), grads = sharedTile(b, kernel, loc, d);
  Value lses = kernel.addWorkgroupAttribution(sharedType(b, {kTile}, b.getF32Type()), loc);
  Value deltas = kernel.addWorkgroupAttribution(sharedType(b, {kTile}, b.getF32Type()), loc);
  // P^T and dS^T are both in flight before the step's closing barrier.
  Value probsScratch = core.scratch(b, kernel, loc, kTile);
  Value gradsScratch = core.scratch(b, kernel, loc, kTile);

  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value keyTile = m.rem(bid, keyTiles), rest = m.div(bid, keyTiles);
  Value kvHead = m.rem(rest, s.kvHeads), batch = m.div(rest, s.kvHeads);
  Value blockFirst = m.mul(keyTile, kRowTile);
  Value first = m.add(blockFirst, m.mul(core.warp, 16)); // the warp's first key
  const int64_t base = s.keys - s.queries;
  auto rowsOf = [&](Value source) {
    return core.operandA(e, d, [&](Value r, Value c) {
      Value row = m.add(first, r);
      return loadBf16Guarded(m, source, {batch, row, kvHead, c}, m.less(row, s.keys), 1);
    });
  };
  SmallVector<SmallVector<Value>> keyOps = rowsOf(in.key), valueOps = rowsOf(in.value);
  const bool pipelined =
      copiesAsynchronously(target, in.query) && copiesAsynchronously(target, in.grad);

  // Queries that can see the block's keys: from the first whose position
  // reaches them (causal) to the last within the window.
  auto signedMax = [&](Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); };
  auto signedSub = [&](Value x, int64_t y) { return arith::SubIOp::create(b, loc, x, m.c(y)); };
  Value queryBegin = m.c(0), queryEnd = m.c(s.queries);
  if (s.causal)
    queryBegin = m.mul(m.div(signedMax(signedSub(blockFirst, base), m.c(0)), kTile), kTile);
  if (s.window)
    queryEnd = arith::MinSIOp::create(
        b, loc, queryEnd,
        signedMax(signedSub(m.add(blockFirst, kRowTile - 1 + *s.window), base), m.c(0)));

  // Loop state: the key gradient's accumulators, then the value gradient's.
  const int64_t accs = core.accumulators(d);
  SmallVector<Value> init(2 * accs, e.f(0.0f));
  auto heads = scf::ForOp::create(
      b, loc, m.c(0), m.c(group), m.c(1), init,
      [&](OpBuilder &hb, Location, Value h, ValueRange outer) {
        Emitter he{hb, loc};
        Value head = he.m.add(he.m.mul(kvHead, group), h);
        // The query tile's log-sum-exp and delta vectors.
        SmallVector<std::pair<Value, Value>> vectors{{in.logsumexp, lses}, {in.delta, deltas}};
        auto scoresAndGrads = [&](Emitter &n, Value queryFirst) {
          IndexMath &nm = n.m;
          // S^T: rows are the warp's keys.
          SmallVector<Value> p = core.productTransposed(n, keyOps, queries, kTile);
          for (auto [j, v] : llvm::enumerate(p))
            v = maskedScore(n, s, nm.c(base), v, nm.add(first, core.rowOf(nm, j)),
                            nm.add(queryFirst, core.colOf(nm, j)));
          return p;
        };
        auto probabilities = [&](Emitter &n, SmallVector<Value> &p) {
          // dP^T = V grad^T, then P and dS in place.
          SmallVector<Value> dS = core.productTransposed(n, valueOps, grads, kTile);
          probabilitiesAndScoreGrads(n, s, p, dS, [&](int64_t j) {
            Value col = core.colOf(n.m, j);
            return std::pair{n.load(lses, {col}), n.load(deltas, {col})};
          });
          return dS;
        };
        if (pipelined) {
          // FlashAttention-2's key/value step with each tile's copy behind a
          // product: the gradient tile lands while the warps score the
          // queries, the next query tile while they add up dV. A step has
          // three barriers: the gradients landed; the queries (and the
          // vectors) free; the next queries landed and the gradients free.
          stageVectors(he, tid, threads, vectors, batch, head, queryBegin, s.queries);
          waitForCopies(he.m, stageTileAsync(he, tid, threads, in.query, queries, batch, head,
                                             queryBegin, he.m.c(s.queries), d));
          gpu::BarrierOp::create(hb, loc);
          stageTileAsync(he, tid, threads, in.grad, grads, batch, head, queryBegin,
                         he.m.c(s.queries), d);
        }
        auto tiles = scf::ForOp::create(
            hb, loc, queryBegin, queryEnd, he.m.c(kTile), outer,
            [&](OpBuilder &nb, Location, Value queryFirst, ValueRange state) {
              Emitter n{nb, loc};
              IndexMath &nm = n.m;
              SmallVector<Value> next(state.begin(), state.end());
              MutableArrayRef<Value> keyAcc(next.data(), accs), valueAcc(next.data() + accs, accs);
              if (!pipelined) {
                stageRows(n, target, tid, threads, {{in.query, queries}, {in.grad, grads}},
                          vectors, batch, head, queryFirst, s.queries, d);
                SmallVector<Value> p = scoresAndGrads(n, queryFirst);
                SmallVector<Value> dS = probabilities(n, p);
                core.accumulate(n, valueAcc, p, grads, kTile, probsScratch);
                core.accumulate(n, keyAcc, dS, queries, kTile, gradsScratch);
                gpu::BarrierOp::create(nb, loc);
                scf::YieldOp::create(nb, loc, next);
                return;
              }
              SmallVector<Value> p = scoresAndGrads(n, queryFirst);
              // The gradient tile started last step (an empty group to wait on).
              waitForCopies(nm, commitCopies(nm, {}));
              gpu::BarrierOp::create(nb, loc);
              SmallVector<Value> dS = probabilities(n, p);
              core.accumulate(n, keyAcc, dS, queries, kTile, gradsScratch);
              gpu::BarrierOp::create(nb, loc);
              Value nextFirst = nm.add(queryFirst, kTile);
              Value more = nm.less(nextFirst, queryEnd);
              n.when(more, [&] {
                stageVectors(n, tid, threads, vectors, batch, head, nextFirst, s.queries);
                stageTileAsync(n, tid, threads, in.query, queries, batch, head, nextFirst,
                               nm.c(s.queries), d);
              });
              core.accumulate(n, valueAcc, p, grads, kTile, probsScratch);
              waitForCopies(nm, commitCopies(nm, {}));
              gpu::BarrierOp::create(nb, loc);
              n.when(more, [&] {
                stageTileAsync(n, tid, threads, in.grad, grads, batch, head, nextFirst,
                               nm.c(s.queries), d);
              });
              scf::YieldOp::create(nb, loc, next);
            });
        // A head with no query tile still has its first gradient tile in flight.
        if (pipelined)
          waitForCopies(he.m, commitCopies(he.m, {}));
        scf::YieldOp::create(hb, loc, tiles.getResults());
      });

  SmallVector<Value> results(heads.getResults());
  auto same = [](int64_t, Value v) { return v; };
  core.store(e, ArrayRef<Value>(results).take_front(accs), keyGrad, batch, first, kvHead, s.keys,
             same);
  core.store(e, ArrayRef<Value>(results).drop_front(accs), valueGrad, batch, first, kvHead,
             s.keys, same);
  return {s.batch * s.kvHeads * keyTiles, threads};
}

} // namespace

LaunchShape mlir::tetra::buildFlashAttention(OpBuilder &builder, gpu::GPUFuncOp kernel,
                                             Location loc, StringRef target, Value query,
                                             Value key, Value value, Value result,
                                             Value logsumexp, Value queryPosition,
                                             const AttentionShape &shape) {
  Emitter e{builder, loc};
  return buildForward(e, kernel, target, query, key, value, result, logsumexp, queryPosition,
                      shape);
}

LaunchShape mlir::tetra::buildFlashAttentionQueryGrad(OpBuilder &builder, gpu::GPUFuncOp kernel,
                                                      Location loc, StringRef target,
                                                      const AttentionGradOperands &in,
                                                      Value queryGrad,
                                                      const AttentionShape &shape) {
  Emitter e{builder, loc};
  return buildQueryGrad(e, kernel, target, in, queryGrad, shape);
}

LaunchShape mlir::tetra::buildFlashAttentionKeyValueGrad(
    OpBuilder &builder, gpu::GPUFuncOp kernel, Location loc, StringRef target,
    const AttentionGradOperands &in, Value keyGrad, Value valueGrad,
    const AttentionShape &shape) {
  Emitter e{builder, loc};
  return buildKeyValueGrad(e, kernel, target, in, keyGrad, valueGrad, shape);
}
