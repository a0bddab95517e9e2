//===- TensorCoreGemm.cpp - GEMM kernels on NVIDIA and AMD matrix cores ---===//
//
// A block computes a 64x64 or 128x128 tile of C in 32-wide slices of K: its
// threads stage the slices of A and B in shared memory as bf16 (reading fp32
// or bf16 storage with coalesced loads, or copying bf16 asynchronously on
// NVIDIA, the next slice's while the warps work on this one), then each of
// its four or eight warps (waves) computes a corner with warp-wide matrix
// instructions fed from there. Fragment
// layouts are the ones the PTX ISA documents for mma.m16n8k16 (.bf16 inputs,
// .f32 accumulators) and AMD's matrix instruction tables for
// v_mfma_f32_16x16x16bf16_1k. Rows and columns past the edge read as zero
// and are not written.
//
//===----------------------------------------------------------------------===//
#include "TensorCoreGemm.h"
#include "KernelMath.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>
#include <functional>

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// One operand as it lies in memory: `outer x inner`, row-major (the
/// logical matrix, or its transpose where the product reads it
/// transposed), fp32 or bf16, copied `run` elements at a time along
/// `inner` (copyRun, where the slices allow it).
struct OperandMemory {
  Value memory;
  int64_t outer, inner, run;

  /// The `run` elements from (o, i) on as bf16, zeros outside the matrix.
  Value read(IndexMath &m, Value o, Value i) const {
    Value inside = arith::AndIOp::create(m.b, m.loc, m.less(o, outer), m.less(i, inner));
    return loadBf16Guarded(m, memory, ValueRange{o, i}, inside, run);
  }
};

/// C[r, col] += value (= value with `overwrite`) where (r, col) lies
/// inside C.
void accumulate(IndexMath &m, Value c, int64_t rows, int64_t cols, Value r, Value col,
                Value value, bool overwrite, GemmEpilogue epilogue) {
  Value inside = arith::AndIOp::create(m.b, m.loc, m.less(r, rows), m.less(col, cols));
  auto guard = scf::IfOp::create(m.b, m.loc, inside, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(m.b);
  m.b.setInsertionPoint(guard.thenBlock()->getTerminator());
  // A bf16 C is widened to add to and rounded once, as it is stored.
  Type element = llvm::cast<MemRefType>(c.getType()).getElementType();
  if (!overwrite) {
    Value old = memref::LoadOp::create(m.b, m.loc, c, ValueRange{r, col});
    if (element != value.getType())
      old = arith::ExtFOp::create(m.b, m.loc, value.getType(), old);
    value = arith::AddFOp::create(m.b, m.loc, old, value);
  }
  if (element != value.getType())
    value = arith::TruncFOp::create(m.b, m.loc, element, value);
  memref::StoreOp::create(m.b, m.loc, value, c, ValueRange{r, col});
  if (epilogue)
    epilogue(m.b, m.loc, r, col);
}

// A block's tile of C: blockRows x blockCols, kSlice of K at a time, its
// warps (waves) warpsDown x warpsAcross, each computing one corner.
struct Tiling {
  int64_t blockRows, blockCols, warpsDown, warpsAcross;
  int64_t warps() const { return warpsDown * warpsAcross; }
  int64_t warpRows() const { return blockRows / warpsDown; }
  int64_t warpCols() const { return blockCols / warpsAcross; }
};
constexpr int64_t kSlice = 32;
// Shared rows hold kSlice bf16 and 8 more, so the lanes of one fragment load
// (8 rows apart in the row index) fall in different banks; 80 bytes keep
// every ldmatrix row (16 bytes) and MFMA quad (8 bytes) aligned.
constexpr int64_t kSharedRow = kSlice + 8;

/// The bf16 slices of A (blockRows x kSlice) and B (blockCols x kSlice,
/// stored by column so a column's k run is contiguous) in shared memory,
/// two stages of each: the threads fill one while the warps read the other.
struct SharedSlices {
  Value a, b;
  Value stage; // the stage the warps read now
};

/// One warp-wide matrix instruction: the tile it computes, how its lanes
/// load their fragments from the shared slices, and where its accumulators
/// sit in the tile.
struct Instruction {
  int64_t lanes, rows, cols; // k is 16 for both
  int64_t bTilesPerLoad;     // B tiles one loadB fetches
  /// A's operands for the tile rows from `row`, k offset `k` in the slice.
  std::function<SmallVector<Value>(IndexMath &, const SharedSlices &, Value lane, Value row,
                                   Value k)>
      loadA;
  /// B's operands for bTilesPerLoad tiles from column `col`, one list each.
  std::function<SmallVector<SmallVector<Value>>(IndexMath &, const SharedSlices &, Value lane,
                                                Value col, Value k)>
      loadB;
  /// The accumulators after one instruction.
  std::function<SmallVector<Value>(IndexMath &, ValueRange a, ValueRange b, ValueRange acc)> mma;
  /// (row, column) in the tile of accumulator `i` of `lane`.
  std::function<std::pair<Value, Value>(IndexMath &, Value lane, int64_t i)> position;
};

/// `count` bf16 of row `r` of the stage the warps read, from `k` on.
Value sharedRun(IndexMath &m, const SharedSlices &s, Value slice, Value r, Value k,
                int64_t count) {
  return loadBf16Run(m, slice, ValueRange{s.stage, r, k}, count);
}

/// Four 8x8 bf16 matrices of the stage the warps read by one warp-wide
/// ldmatrix.x4: lane l gives row l % 8 of matrix l / 8 at (r, k) and gets,
/// in register j, its two elements of matrix j (PTX ISA: row l / 4,
/// columns 2 (l % 4) and one more). Rows are 80 bytes, so each row's 16
/// bytes are aligned and the eight rows of a matrix fall in different banks.
SmallVector<Value> sharedMatrices(IndexMath &m, const SharedSlices &s, Value slice, Value r,
                                  Value k) {
  auto type = VectorType::get({4, 2}, m.b.getBF16Type());
  Value v = nvgpu::LdMatrixOp::create(m.b, m.loc, type, slice, ValueRange{s.stage, r, k},
                                      /*transpose=*/false, /*numTiles=*/4);
  SmallVector<Value> regs;
  for (int64_t j = 0; j < 4; ++j)
    regs.push_back(LLVM::BitcastOp::create(m.b, m.loc, m.b.getI32Type(),
                                           vector::ExtractOp::create(m.b, m.loc, v, j)));
  return regs;
}

/// mma.sync.m16n8k16 (PTX ISA fragments; g = lane / 4, t = lane % 4).
/// A's registers a0..a3 hold rows g, g+8 at columns (k) 2t, then the same
/// at 2t+8: the four 8x8 quarters of its 16x16 tile, in the order ldmatrix
/// returns them when lane l names row l % 8 + 8 ((l / 8) % 2), column
/// 8 (l / 16). B's b0, b1 hold column g at rows (k) 2t, 2t+8: with B
/// stored by column, an 8x8 matrix of columns by k, so one ldmatrix.x4
/// serves two 8-column tiles (lane l names column l % 8 + 8 (l / 16), k
/// 8 ((l / 8) % 2)).
Instruction mmaSync() {
  Instruction inst{32, 16, 8, 2, nullptr, nullptr, nullptr, nullptr};
  inst.loadA = [](IndexMath &m, const SharedSlices &s, Value lane, Value row, Value k) {
    Value r = m.add(row, m.add(m.rem(lane, 8), m.mul(m.rem(m.div(lane, 8), 2), 8)));
    return sharedMatrices(m, s, s.a, r, m.add(k, m.mul(m.div(lane, 16), 8)));
  };
  inst.loadB = [](IndexMath &m, const SharedSlices &s, Value lane, Value col, Value k) {
    Value c = m.add(col, m.add(m.rem(lane, 8), m.mul(m.div(lane, 16), 8)));
    SmallVector<Value> regs =
        sharedMatrices(m, s, s.b, c, m.add(k, m.mul(m.rem(m.div(lane, 8), 2), 8)));
    return SmallVector<SmallVector<Value>>{{regs[0], regs[1]}, {regs[2], regs[3]}};
  };
  inst.mma = [](IndexMath &m, ValueRange a, ValueRange b, ValueRange acc) {
    return mmaSyncBf16(m.b, m.loc, a, b, acc);
  };
  // c0, c1: row g, columns 2t, 2t+1; c2, c3: row g+8.
  inst.position = [](IndexMath &m, Value lane, int64_t i) {
    return std::pair{m.add(m.div(lane, 4), 8 * (i / 2)), m.add(m.mul(m.rem(lane, 4), 2), i % 2)};
  };
  return inst;
}

/// v_mfma_f32_16x16x16bf16_1k: lane l holds A[l % 16][4 (l / 16) + i],
/// B[4 (l / 16) + i][l % 16] and D[4 (l / 16) + i][l % 16]; A's and B's
/// four each are one 64-bit load.
Instruction mfma() {
  Instruction inst{64, 16, 16, 1, nullptr, nullptr, nullptr, nullptr};
  inst.loadA = [](IndexMath &m, const SharedSlices &s, Value lane, Value row, Value k) {
    return SmallVector<Value>{sharedRun(m, s, s.a, m.add(row, m.rem(lane, 16)),
                                        m.add(k, m.mul(m.div(lane, 16), 4)), 4)};
  };
  inst.loadB = [](IndexMath &m, const SharedSlices &s, Value lane, Value col, Value k) {
    return SmallVector<SmallVector<Value>>{{sharedRun(m, s, s.b, m.add(col, m.rem(lane, 16)),
                                                      m.add(k, m.mul(m.div(lane, 16), 4)), 4)}};
  };
  inst.mma = [](IndexMath &m, ValueRange a, ValueRange b, ValueRange acc) {
    return mfmaBf16(m.b, m.loc, a[0], b[0], acc);
  };
  inst.position = [](IndexMath &m, Value lane, int64_t i) {
    return std::pair{m.add(m.mul(m.div(lane, 16), 4), i), m.rem(lane, 16)};
  };
  return inst;
}

/// A thread's share of one `rows x kSlice` slice: the runs it copies.
/// Consecutive threads take consecutive runs along the operand's contiguous
/// dimension, so the global reads coalesce. With `kContiguous` the
/// operand's rows are the slice's rows (memory is rows x K), else its
/// columns are (K x rows).
struct SliceCopy {
  OperandMemory operand;
  bool kContiguous;
  int64_t rows;
  Value first; // the block's first row (column, for B) of the matrix
  /// Whether the runs go to shared memory without registers (bf16 runs of
  /// eight along K on NVIDIA: one cp.async each, straight into its row).
  bool async;

  /// Whether the slice is staged as wgmma's core matrices (8 rows of 16
  /// bytes each, contiguous) rather than in padded rows.
  bool coreMatrices = false;

  /// (row, k) in the slice where the thread's `j`-th run starts. In core
  /// matrices eight consecutive runs take eight rows of one column of
  /// them, so the threads of a store phase hit distinct banks; a warp
  /// still reads whole 32-byte sectors of each row.
  std::pair<Value, Value> start(IndexMath &m, Value tid, int64_t threads, int64_t j) const {
    Value linear = m.add(tid, j * threads);
    int64_t run = operand.run;
    int64_t perRow = kSlice / run;
    if (kContiguous && coreMatrices && run > 1)
      return {m.add(m.rem(linear, 8), m.mul(m.div(linear, 8 * perRow), 8)),
              m.mul(m.rem(m.div(linear, 8), perRow), run)};
    if (kContiguous)
      return {m.div(linear, perRow), m.mul(m.rem(linear, perRow), run)};
    return {m.mul(m.rem(linear, rows / run), run), m.div(linear, rows / run)};
  }

  /// The shared indices of element (r, k) of `stage`: [stage][r][k] in
  /// padded rows; [stage][r / 8][(k / 8) 64 + (r % 8) 8 + k % 8] in core
  /// matrices, so that a run of up to eight along K stays in one row of
  /// one core matrix.
  SmallVector<Value> shared(IndexMath &m, Value stage, Value r, Value k) const {
    if (!coreMatrices)
      return {stage, r, k};
    Value inner = m.add(m.add(m.mul(m.div(k, 8), 64), m.mul(m.rem(r, 8), 8)), m.rem(k, 8));
    return {stage, m.div(r, 8), inner};
  }

  int64_t runsPerThread(int64_t threads) const {
    return rows * kSlice / operand.run / threads;
  }

  /// The thread's runs of the slice at `k0`, as bf16 (zeros past K).
  SmallVector<Value> load(IndexMath &m, Value k0, Value tid, int64_t threads) const {
    SmallVector<Value> values;
    for (int64_t j = 0; j < runsPerThread(threads); ++j) {
      auto [r, k] = start(m, tid, threads, j);
      Value row = m.add(first, r), kk = m.add(k0, k);
      values.push_back(kContiguous ? operand.read(m, row, kk) : operand.read(m, kk, row));
    }
    return values;
  }

  /// Starts the thread's runs of the slice at `k0` as asynchronous copies
  /// into `stage` of `slice` (zeros past K and the matrix's edge), for the
  /// caller to commit.
  void copyAsync(IndexMath &m, Value k0, Value slice, Value stage, Value tid,
                 int64_t threads) const {
    for (int64_t j = 0; j < runsPerThread(threads); ++j) {
      auto [r, k] = start(m, tid, threads, j);
      Value row = m.add(first, r), kk = m.add(k0, k);
      Value inside = arith::AndIOp::create(m.b, m.loc, m.less(row, operand.outer),
                                           m.less(kk, operand.inner));
      copyRunAsync(m, operand.memory, {row, kk}, inside, slice, shared(m, stage, r, k));
    }
  }

  /// Stores the runs `load` gave into `stage` of `slice`: along a shared
  /// row at once where they run along K, else one element a row.
  void store(IndexMath &m, ValueRange values, Value slice, Value stage, Value tid,
             int64_t threads) const {
    for (auto [j, v] : llvm::enumerate(values)) {
      auto [r, k] = start(m, tid, threads, j);
      if (operand.run == 1 || kContiguous) {
        // k is a multiple of the run, and padded rows are 80 bytes.
        storeBf16Run(m, v, slice, shared(m, stage, r, k));
      } else {
        for (int64_t e = 0; e < operand.run; ++e)
          memref::StoreOp::create(m.b, m.loc, vector::ExtractOp::create(m.b, m.loc, v, e), slice,
                                  shared(m, stage, m.add(r, e), k));
      }
    }
  }
};

/// The operand `memory` (`outer x inner`) copied by `threads` threads into
/// slices of `rows` rows: in copyRun's runs where the slice's shape also
/// shares them out evenly, else one element at a time.
OperandMemory operandFor(Value memory, int64_t threads, int64_t rows, bool kContiguous) {
  auto type = llvm::cast<MemRefType>(memory.getType());
  int64_t run = copyRun(type);
  int64_t along = kContiguous ? kSlice : rows;
  bool fits = along % run == 0 && (rows * kSlice / run) % threads == 0;
  return {memory, type.getDimSize(0), type.getDimSize(1), fits ? run : 1};
}

/// The copy of `memory`'s slices (operandFor's runs), asynchronous where
/// the target and the runs allow.
SliceCopy sliceCopyFor(StringRef target, Value memory, int64_t threads, int64_t rows,
                       bool kContiguous, Value first, bool coreMatrices = false) {
  OperandMemory operand = operandFor(memory, threads, rows, kContiguous);
  bool async = kContiguous && operand.run == kAsyncRun &&
               copiesAsynchronously(target, memory);
  return {operand, kContiguous, rows, first, async, coreMatrices};
}

/// Both operands' slice copies, each with the shared buffer it fills.
struct SliceStaging {
  std::pair<const SliceCopy *, Value> copies[2];
  Value tid;
  int64_t threads;

  bool anyAsync() const { return copies[0].first->async || copies[1].first->async; }

  /// The first slice into stage 0, landed.
  void first(IndexMath &m) const {
    for (auto [copy, buffer] : copies) {
      if (copy->async)
        copy->copyAsync(m, m.c(0), buffer, m.c(0), tid, threads);
      else
        copy->store(m, copy->load(m, m.c(0), tid, threads), buffer, m.c(0), tid, threads);
    }
    if (anyAsync())
      waitForCopies(m, commitCopies(m, {}));
  }

  /// The slice at `k0` on its way to `stage`: the global reads issued into
  /// registers, or the asynchronous copies started and committed.
  struct InFlight {
    SmallVector<Value> loaded[2];
    Value copied;
  };
  InFlight start(IndexMath &m, Value k0, Value stage) const {
    InFlight next;
    for (auto [i, copyAndSlice] : llvm::enumerate(copies)) {
      auto [copy, buffer] = copyAndSlice;
      if (copy->async)
        copy->copyAsync(m, k0, buffer, stage, tid, threads);
      else
        next.loaded[i] = copy->load(m, k0, tid, threads);
    }
    next.copied = anyAsync() ? commitCopies(m, {}) : Value();
    return next;
  }

  /// Lands `next` in `stage`: the registers stored, the copies waited for.
  void finish(IndexMath &m, const InFlight &next, Value stage) const {
    for (auto [i, copyAndSlice] : llvm::enumerate(copies)) {
      auto [copy, buffer] = copyAndSlice;
      if (!copy->async)
        copy->store(m, next.loaded[i], buffer, stage, tid, threads);
    }
    if (next.copied)
      waitForCopies(m, next.copied);
  }
};

LaunchShape buildTiled(IndexMath &m, gpu::GPUFuncOp kernel, StringRef target,
                       const Instruction &inst, const Tiling &tiling, Value a, Value bm, Value c,
                       const GemmShape &s, GemmEpilogue epilogue) {
  MLIRContext *ctx = m.b.getContext();
  int64_t threads = tiling.warps() * inst.lanes;
  int64_t blocksAcross = ceilDiv(s.n, tiling.blockCols);
  int64_t blocks = ceilDiv(s.m, tiling.blockRows) * blocksAcross;
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto sliceType = [&](int64_t rows) {
    return MemRefType::get({2, rows, kSharedRow}, m.b.getBF16Type(), MemRefLayoutAttrInterface{},
                           workgroup);
  };
  // 16-byte aligned, as ldmatrix's row addresses must be.
  auto slices = [&](int64_t rows) {
    Value buffer = kernel.addWorkgroupAttribution(sliceType(rows), m.loc);
    kernel.setWorkgroupAttributionAttr(kernel.getNumWorkgroupAttributions() - 1,
                                       LLVM::LLVMDialect::getAlignAttrName(),
                                       m.b.getI64IntegerAttr(16));
    return buffer;
  };
  SharedSlices shared{slices(tiling.blockRows), slices(tiling.blockCols), Value()};

  Value tid = gpu::ThreadIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value warp = m.div(tid, inst.lanes), lane = m.rem(tid, inst.lanes);
  Value blockRow = m.mul(m.div(bid, blocksAcross), tiling.blockRows);
  Value blockCol = m.mul(m.rem(bid, blocksAcross), tiling.blockCols);
  Value warpRow = m.mul(m.div(warp, tiling.warpsAcross), tiling.warpRows());
  Value warpCol = m.mul(m.rem(warp, tiling.warpsAcross), tiling.warpCols());
  int64_t tilesDown = tiling.warpRows() / inst.rows, tilesAcross = tiling.warpCols() / inst.cols;
  int64_t accumulators = tilesDown * tilesAcross * 4;
  Value zero = arith::ConstantFloatOp::create(m.b, m.loc, m.b.getF32Type(), APFloat(0.0f));
  SmallVector<Value> init(accumulators, zero);
  // A is M x K in memory unless transposed; B is K x N unless transposed.
  SliceCopy copyA = sliceCopyFor(target, a, threads, tiling.blockRows, !s.transA, blockRow);
  SliceCopy copyB = sliceCopyFor(target, bm, threads, tiling.blockCols, s.transB, blockCol);
  SliceStaging staging{{{&copyA, shared.a}, {&copyB, shared.b}}, tid, threads};

  // The first slice to stage 0; then, each time round, the next slice's
  // global reads are issued before the products on this one, and stored to
  // the other stage after them (an asynchronous copy lands there by
  // itself; the thread waits for it before the barrier), so their latency
  // hides behind the matrix instructions. One barrier a slice: the stage
  // written in round s was last read in round s - 1, before its barrier.
  staging.first(m);
  gpu::BarrierOp::create(m.b, m.loc);
  auto loop = scf::ForOp::create(
      m.b, m.loc, m.c(0), m.c(ceilDiv(s.k, kSlice)), m.c(1), init,
      [&](OpBuilder &nb, Location loc, Value slice, ValueRange acc) {
        IndexMath n{nb, loc};
        SharedSlices now = shared;
        now.stage = n.rem(slice, 2);
        Value nextK = n.mul(n.add(slice, 1), kSlice);
        Value other = n.rem(n.add(slice, 1), 2);
        SliceStaging::InFlight next = staging.start(n, nextK, other);
        SmallVector<Value> sums(acc.begin(), acc.end());
        for (int64_t k = 0; k < kSlice; k += 16) {
          // Each 16-deep step loads every fragment of the warp's tiles once.
          SmallVector<SmallVector<Value>> aOps, bOps;
          for (int64_t i = 0; i < tilesDown; ++i)
            aOps.push_back(inst.loadA(n, now, lane, n.add(warpRow, i * inst.rows), n.c(k)));
          for (int64_t j = 0; j < tilesAcross; j += inst.bTilesPerLoad)
            llvm::append_range(bOps,
                               inst.loadB(n, now, lane, n.add(warpCol, j * inst.cols), n.c(k)));
          for (int64_t i = 0; i < tilesDown; ++i)
            for (int64_t j = 0; j < tilesAcross; ++j) {
              int64_t first = (i * tilesAcross + j) * 4;
              SmallVector<Value> d =
                  inst.mma(n, aOps[i], bOps[j], ValueRange(sums).slice(first, 4));
              std::copy(d.begin(), d.end(), sums.begin() + first);
            }
        }
        staging.finish(n, next, other);
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, sums);
      });

  for (int64_t i = 0; i < tilesDown; ++i)
    for (int64_t j = 0; j < tilesAcross; ++j)
      for (int64_t e = 0; e < 4; ++e) {
        auto [r, col] = inst.position(m, lane, e);
        Value row = m.add(m.add(blockRow, warpRow), m.add(r, i * inst.rows));
        Value column = m.add(m.add(blockCol, warpCol), m.add(col, j * inst.cols));
        accumulate(m, c, s.m, s.n, row, column, loop.getResult((i * tilesAcross + j) * 4 + e),
                   s.overwrite, epilogue);
      }
  return {blocks, threads};
}

// wgmma's operands in shared memory, as the PTX ISA's canonical K-major
// layout without swizzling describes them: core matrices of 8 rows x 16
// bytes (8 bf16 of K), each 128 contiguous bytes; the matrix descriptor's
// leading byte offset steps to the next core matrix along K, its stride
// byte offset to the next 8 rows.
constexpr int64_t kCoreMatrixBytes = 128;
constexpr int64_t kCoreRowGroupBytes = (kSlice / 8) * kCoreMatrixBytes; // 8 rows of a slice

/// The shared-memory matrix descriptor of the 8-row groups from `rowGroup`
/// of `stage`, from K offset `k` (a multiple of 16) of the slice:
/// start address >> 4 in bits 0-13, leading byte offset >> 4 in 16-29,
/// stride byte offset >> 4 in 32-45, no swizzle. The start is the shared
/// window's address (< 256 KiB), so only its low 18 bits count.
Value coreMatrixDescriptor(IndexMath &m, Value slice, int64_t stageBytes, Value stage,
                           Value rowGroup, int64_t k) {
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(m.b, m.loc, slice);
  Value address = m.add(m.add(base, m.mul(stage, stageBytes)),
                        m.add(m.mul(rowGroup, kCoreRowGroupBytes), (k / 8) * kCoreMatrixBytes));
  Value field = m.div(m.rem(address, int64_t(1) << 18), 16);
  Value desc = arith::IndexCastOp::create(m.b, m.loc, m.b.getI64Type(), field);
  int64_t offsets = ((kCoreMatrixBytes >> 4) << 16) | ((kCoreRowGroupBytes >> 4) << 32);
  return arith::OrIOp::create(
      m.b, m.loc, desc, arith::ConstantIntOp::create(m.b, m.loc, m.b.getI64Type(), offsets));
}

/// A block of `groups` warpgroups (128 threads each), each computing 64
/// rows x `cols` columns of the block's tile with wgmma.mma_async
/// m64n<cols>k16 (bf16 in, fp32 accumulators held in registers), both
/// operands read from shared memory through descriptors. Accumulator
/// layout (PTX ISA, wgmma .m64nNk16 D fragments): warp w of the warpgroup
/// holds rows 16 w..16 w + 15; its lane l holds d[4 j + i] at row
/// l / 4 + 8 (i / 2), column 8 j + 2 (l % 4) + i % 2 for i < 4.
LaunchShape buildWarpgroupTiled(IndexMath &m, gpu::GPUFuncOp kernel, StringRef target,
                                int64_t groups, int64_t cols, Value a, Value bm, Value c,
                                const GemmShape &s, GemmEpilogue epilogue) {
  MLIRContext *ctx = m.b.getContext();
  int64_t threads = groups * 128, blockRows = groups * 64, blockCols = cols;
  int64_t blocksAcross = ceilDiv(s.n, blockCols);
  int64_t blocks = ceilDiv(s.m, blockRows) * blocksAcross;
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto slices = [&](int64_t rows) {
    auto type = MemRefType::get({2, rows / 8, kSlice * 8}, m.b.getBF16Type(),
                                MemRefLayoutAttrInterface{}, workgroup);
    Value buffer = kernel.addWorkgroupAttribution(type, m.loc);
    kernel.setWorkgroupAttributionAttr(kernel.getNumWorkgroupAttributions() - 1,
                                       LLVM::LLVMDialect::getAlignAttrName(),
                                       m.b.getI64IntegerAttr(kCoreMatrixBytes));
    return buffer;
  };
  Value sharedA = slices(blockRows), sharedB = slices(blockCols);
  int64_t stageBytesA = blockRows * kSlice * 2, stageBytesB = blockCols * kSlice * 2;

  Value tid = gpu::ThreadIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value blockRow = m.mul(m.div(bid, blocksAcross), blockRows);
  Value blockCol = m.mul(m.rem(bid, blocksAcross), blockCols);
  SliceCopy copyA = sliceCopyFor(target, a, threads, blockRows, !s.transA, blockRow, true);
  SliceCopy copyB = sliceCopyFor(target, bm, threads, blockCols, s.transB, blockCol, true);
  SliceStaging staging{{{&copyA, sharedA}, {&copyB, sharedB}}, tid, threads};

  Type f32 = m.b.getF32Type();
  int64_t accumulators = cols / 2;
  auto accType = LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(accumulators, f32));
  Value zero = arith::ConstantFloatOp::create(m.b, m.loc, m.b.getF32Type(), APFloat(0.0f));
  Value init = LLVM::PoisonOp::create(m.b, m.loc, accType);
  for (int64_t i = 0; i < accumulators; ++i)
    init = LLVM::InsertValueOp::create(m.b, m.loc, init, zero, i);

  // Writes by the threads (st.shared, cp.async) are the generic proxy's;
  // wgmma reads through the async proxy, which a fence orders after them.
  auto fenceForWgmma = [](IndexMath &n) {
    NVVM::FenceProxyOp::create(
        n.b, n.loc, NVVM::ProxyKindAttr::get(n.b.getContext(), NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(n.b.getContext(), NVVM::SharedSpace::shared_cta));
  };
  staging.first(m);
  fenceForWgmma(m);
  gpu::BarrierOp::create(m.b, m.loc);
  // Each round issues this slice's products, then stages the next slice in
  // the other stage while the tensor cores work, and waits for the
  // products before the barrier: the stage written in round s was last
  // read by round s - 1's products, which that round waited for.
  Value group = m.div(tid, 128);
  auto loop = scf::ForOp::create(
      m.b, m.loc, m.c(0), m.c(ceilDiv(s.k, kSlice)), m.c(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value slice, ValueRange acc) {
        IndexMath n{nb, loc};
        Value stage = n.rem(slice, 2);
        Value nextK = n.mul(n.add(slice, 1), kSlice);
        Value other = n.rem(n.add(slice, 1), 2);
        Value sums = acc[0];
        NVVM::WgmmaFenceAlignedOp::create(nb, loc);
        for (int64_t k = 0; k < kSlice; k += 16) {
          // The warpgroup's 64 rows of A start at row group 8 g.
          Value descA =
              coreMatrixDescriptor(n, sharedA, stageBytesA, stage, n.mul(group, 8), k);
          Value descB = coreMatrixDescriptor(n, sharedB, stageBytesB, stage, n.c(0), k);
          sums = NVVM::WgmmaMmaAsyncOp::create(
              nb, loc, accType, sums, descA, descB,
              NVVM::MMAShapeAttr::get(ctx, 64, cols, 16),
              NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::bf16),
              NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::bf16),
              NVVM::WGMMATypesAttr::get(ctx, NVVM::WGMMATypes::f32),
              NVVM::WGMMAScaleOutAttr::get(ctx, NVVM::WGMMAScaleOut::one),
              NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
              NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one),
              NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
              NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col), NVVM::MMAIntOverflowAttr());
        }
        NVVM::WgmmaGroupSyncAlignedOp::create(nb, loc);
        staging.finish(n, staging.start(n, nextK, other), other);
        NVVM::WgmmaWaitGroupSyncOp::create(nb, loc, 0);
        fenceForWgmma(n);
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, sums);
      });

  Value inGroup = m.rem(tid, 128);
  Value warp = m.div(inGroup, 32), lane = m.rem(inGroup, 32);
  Value rowBase = m.add(m.add(blockRow, m.mul(group, 64)),
                        m.add(m.mul(warp, 16), m.div(lane, 4)));
  Value colBase = m.add(blockCol, m.mul(m.rem(lane, 4), 2));
  for (int64_t i = 0; i < accumulators; ++i) {
    Value row = m.add(rowBase, 8 * ((i % 4) / 2));
    Value column = m.add(colBase, 8 * (i / 4) + i % 2);
    Value value = LLVM::ExtractValueOp::create(m.b, m.loc, loop.getResult(0), i);
    accumulate(m, c, s.m, s.n, row, column, value, s.overwrite, epilogue);
  }
  return {blocks, threads};
}

/// 128 x 128 tiles (eight warps of 64 x 32) where they still give enough
/// blocks to fill a large GPU, else 64 x 64 (four warps of 32 x 32).
Tiling tilingFor(const GemmShape &s, GemmTile tile) {
  constexpr Tiling small{64, 64, 2, 2}, large{128, 128, 2, 4};
  constexpr int64_t kEnoughBlocks = 128;
  if (tile == GemmTile::Auto)
    return ceilDiv(s.m, 128) * ceilDiv(s.n, 128) >= kEnoughBlocks ? large : small;
  return tile == GemmTile::Large ? large : small;
}

} // namespace

LaunchShape mlir::tetra::buildTensorCoreGemm(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                             StringRef target, Value a, Value bMatrix, Value c,
                                             const GemmShape &shape, GemmTile tile,
                                             GemmEpilogue epilogue,
                                             GemmInstruction instruction) {
  IndexMath m{b, loc};
  if (instruction == GemmInstruction::Warpgroup) {
    // The same tiles: 64 x 64 (one warpgroup), 128 x 128 (two of 64 x 128).
    bool large = tilingFor(shape, tile).blockRows == 128;
    return buildWarpgroupTiled(m, kernel, target, large ? 2 : 1, large ? 128 : 64, a, bMatrix,
                               c, shape, epilogue);
  }
  return buildTiled(m, kernel, target, target == "rocdl" ? mfma() : mmaSync(),
                    tilingFor(shape, tile), a, bMatrix, c, shape, epilogue);
}
