//===- TensorCoreGemm.cpp - GEMM kernels on NVIDIA and AMD matrix cores ---===//
//
// A block computes a 64x64 tile of C in 32-wide slices of K: its threads
// stage the slices of A and B in shared memory as bf16 (reading fp32 or bf16
// storage with coalesced loads), then each of its four warps (waves) computes a
// 32x32 corner with warp-wide matrix instructions fed from there. Fragment
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
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>
#include <functional>

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// The logical matrix `rows x cols` held in `memory` (transposed when
/// `swapped`), fp32 or bf16: element (r, col) as bf16, zero outside the
/// matrix.
struct MatrixReader {
  Value memory;
  int64_t rows, cols;
  bool swapped;

  Value readBf16(IndexMath &m, Value r, Value col) const {
    Value inRows = m.less(r, rows), inCols = m.less(col, cols);
    Value zeroIndex = m.c(0);
    Value rc = arith::SelectOp::create(m.b, m.loc, inRows, r, zeroIndex);
    Value cc = arith::SelectOp::create(m.b, m.loc, inCols, col, zeroIndex);
    Value v = swapped ? memref::LoadOp::create(m.b, m.loc, memory, ValueRange{cc, rc})
                      : memref::LoadOp::create(m.b, m.loc, memory, ValueRange{rc, cc});
    Type bf16 = m.b.getBF16Type();
    if (!v.getType().isBF16())
      v = arith::TruncFOp::create(m.b, m.loc, bf16, v);
    Value inside = arith::AndIOp::create(m.b, m.loc, inRows, inCols);
    Value zero = arith::ConstantFloatOp::create(m.b, m.loc, llvm::cast<FloatType>(bf16),
                                                APFloat::getZero(APFloat::BFloat()));
    return arith::SelectOp::create(m.b, m.loc, inside, v, zero);
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

// The block tile: kBlockRows x kBlockCols of C, kSlice of K at a time; four
// warps (waves), 2 x 2, each computing a kWarpTile x kWarpTile corner.
constexpr int64_t kBlockRows = 64, kBlockCols = 64, kSlice = 32, kWarpTile = 32;
constexpr int64_t kWarps = 4;
// Shared rows hold kSlice bf16 and 8 more, so the lanes of one fragment load
// (8 rows apart in the row index) fall in different banks.
constexpr int64_t kSharedRow = kSlice + 8;

/// The bf16 slices of A (kBlockRows x kSlice) and B (kBlockCols x kSlice,
/// stored by column so a column's k run is contiguous) in shared memory.
struct SharedSlices {
  Value a, b;
};

/// One warp-wide matrix instruction: the tile it computes, how its lanes
/// load their fragments from the shared slices, and where its accumulators
/// sit in the tile.
struct Instruction {
  int64_t lanes, rows, cols; // k is 16 for both
  /// The accumulators after one instruction on the tile at (row, col) of
  /// the block, k offset `k` within the slice.
  std::function<SmallVector<Value>(IndexMath &, const SharedSlices &, Value lane, Value row,
                                   Value col, Value k, ValueRange acc)>
      step;
  /// (row, column) in the tile of accumulator `i` of `lane`.
  std::function<std::pair<Value, Value>(IndexMath &, Value lane, int64_t i)> position;
};

Value sharedLoad(IndexMath &m, Value slice, Value r, Value k) {
  return memref::LoadOp::create(m.b, m.loc, slice, ValueRange{r, k});
}

/// mma.sync.m16n8k16 (PTX ISA fragments; g = lane / 4, t = lane % 4).
Instruction mmaSync() {
  Instruction inst{32, 16, 8, nullptr, nullptr};
  inst.step = [](IndexMath &m, const SharedSlices &s, Value lane, Value row, Value col, Value k,
                 ValueRange acc) {
    Value g = m.div(lane, 4), pairK = m.add(k, m.mul(m.rem(lane, 4), 2));
    SmallVector<Value> aRegs, bRegs;
    // a0..a7 in four registers: rows g, g+8; columns 2t, 2t+8 (pairs along k).
    for (int r = 0; r < 4; ++r) {
      Value ar = m.add(row, m.add(g, 8 * (r % 2)));
      Value ak = m.add(pairK, 8 * (r / 2));
      aRegs.push_back(packBf16Pair(m, sharedLoad(m, s.a, ar, ak), sharedLoad(m, s.a, ar, m.add(ak, 1))));
    }
    // b0..b3 in two registers: rows (k) 2t, 2t+8 (pairs), column g.
    Value bc = m.add(col, g);
    for (int r = 0; r < 2; ++r) {
      Value bk = m.add(pairK, 8 * r);
      bRegs.push_back(packBf16Pair(m, sharedLoad(m, s.b, bc, bk), sharedLoad(m, s.b, bc, m.add(bk, 1))));
    }
    return mmaSyncBf16(m.b, m.loc, aRegs, bRegs, acc);
  };
  // c0, c1: row g, columns 2t, 2t+1; c2, c3: row g+8.
  inst.position = [](IndexMath &m, Value lane, int64_t i) {
    return std::pair{m.add(m.div(lane, 4), 8 * (i / 2)), m.add(m.mul(m.rem(lane, 4), 2), i % 2)};
  };
  return inst;
}

/// v_mfma_f32_16x16x16bf16_1k: lane l holds A[l % 16][4 (l / 16) + i],
/// B[4 (l / 16) + i][l % 16] and D[4 (l / 16) + i][l % 16].
Instruction mfma() {
  Instruction inst{64, 16, 16, nullptr, nullptr};
  inst.step = [](IndexMath &m, const SharedSlices &s, Value lane, Value row, Value col, Value k,
                 ValueRange acc) {
    Value lane16 = m.rem(lane, 16), quadK = m.add(k, m.mul(m.div(lane, 16), 4));
    SmallVector<Value> aVals, bVals;
    for (int64_t i = 0; i < 4; ++i) {
      aVals.push_back(sharedLoad(m, s.a, m.add(row, lane16), m.add(quadK, i)));
      bVals.push_back(sharedLoad(m, s.b, m.add(col, lane16), m.add(quadK, i)));
    }
    return mfmaBf16(m.b, m.loc, aVals, bVals, acc);
  };
  inst.position = [](IndexMath &m, Value lane, int64_t i) {
    return std::pair{m.add(m.mul(m.div(lane, 16), 4), i), m.rem(lane, 16)};
  };
  return inst;
}

/// Copies the logical `rows x kSlice` slice of `matrix` starting at
/// (`first`, `k0`) into `slice` as bf16, every thread a share. Consecutive
/// threads take consecutive elements of the matrix's contiguous dimension,
/// so the global reads coalesce.
void stageSlice(IndexMath &m, const MatrixReader &matrix, bool kContiguous, Value slice,
                int64_t rows, Value first, Value k0, Value tid, int64_t threads,
                bool sliceByColumn) {
  scf::ForOp::create(
      m.b, m.loc, tid, m.c(rows * kSlice), m.c(threads), ValueRange{},
      [&](OpBuilder &nb, Location loc, Value linear, ValueRange) {
        IndexMath n{nb, loc};
        Value r = kContiguous ? n.div(linear, kSlice) : n.rem(linear, rows);
        Value k = kContiguous ? n.rem(linear, kSlice) : n.div(linear, rows);
        Value v = sliceByColumn ? matrix.readBf16(n, n.add(k0, k), n.add(first, r))
                                : matrix.readBf16(n, n.add(first, r), n.add(k0, k));
        memref::StoreOp::create(nb, loc, v, slice, ValueRange{r, k});
        scf::YieldOp::create(nb, loc);
      });
}

LaunchShape buildTiled(IndexMath &m, gpu::GPUFuncOp kernel, const Instruction &inst,
                       const MatrixReader &a, const MatrixReader &bm, Value c, const GemmShape &s,
                       GemmEpilogue epilogue) {
  MLIRContext *ctx = m.b.getContext();
  int64_t threads = kWarps * inst.lanes;
  int64_t blocksAcross = ceilDiv(s.n, kBlockCols);
  int64_t blocks = ceilDiv(s.m, kBlockRows) * blocksAcross;
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto sliceType = [&](int64_t rows) {
    return MemRefType::get({rows, kSharedRow}, m.b.getBF16Type(), MemRefLayoutAttrInterface{},
                           workgroup);
  };
  SharedSlices shared{kernel.addWorkgroupAttribution(sliceType(kBlockRows), m.loc),
                      kernel.addWorkgroupAttribution(sliceType(kBlockCols), m.loc)};

  Value tid = gpu::ThreadIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value warp = m.div(tid, inst.lanes), lane = m.rem(tid, inst.lanes);
  Value blockRow = m.mul(m.div(bid, blocksAcross), kBlockRows);
  Value blockCol = m.mul(m.rem(bid, blocksAcross), kBlockCols);
  Value warpRow = m.mul(m.div(warp, 2), kWarpTile), warpCol = m.mul(m.rem(warp, 2), kWarpTile);
  int64_t tilesDown = kWarpTile / inst.rows, tilesAcross = kWarpTile / inst.cols;
  int64_t accumulators = tilesDown * tilesAcross * 4;
  Value zero = arith::ConstantFloatOp::create(m.b, m.loc, m.b.getF32Type(), APFloat(0.0f));
  SmallVector<Value> init(accumulators, zero);

  auto loop = scf::ForOp::create(
      m.b, m.loc, m.c(0), m.c(s.k), m.c(kSlice), init,
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
        IndexMath n{nb, loc};
        // A's rows and B's columns of this block, k0..k0+kSlice, to shared
        // memory; then every warp's products from there.
        stageSlice(n, a, /*kContiguous=*/!a.swapped, shared.a, kBlockRows, blockRow, k0, tid,
                   threads, /*sliceByColumn=*/false);
        stageSlice(n, bm, /*kContiguous=*/bm.swapped, shared.b, kBlockCols, blockCol, k0, tid,
                   threads, /*sliceByColumn=*/true);
        gpu::BarrierOp::create(nb, loc);
        SmallVector<Value> next(acc.begin(), acc.end());
        for (int64_t k = 0; k < kSlice; k += 16)
          for (int64_t i = 0; i < tilesDown; ++i)
            for (int64_t j = 0; j < tilesAcross; ++j) {
              int64_t first = (i * tilesAcross + j) * 4;
              SmallVector<Value> d = inst.step(
                  n, shared, lane, n.add(warpRow, i * inst.rows), n.add(warpCol, j * inst.cols),
                  n.c(k), ValueRange(next).slice(first, 4));
              std::copy(d.begin(), d.end(), next.begin() + first);
            }
        // The slices are overwritten next time round only once every warp
        // has read them.
        gpu::BarrierOp::create(nb, loc);
        scf::YieldOp::create(nb, loc, next);
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

} // namespace

LaunchShape mlir::tetra::buildTensorCoreGemm(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                             StringRef target, Value a, Value bMatrix, Value c,
                                             const GemmShape &shape, GemmEpilogue epilogue) {
  IndexMath m{b, loc};
  MatrixReader aReader{a, shape.m, shape.k, shape.transA};
  MatrixReader bReader{bMatrix, shape.k, shape.n, shape.transB};
  return buildTiled(m, kernel, target == "rocdl" ? mfma() : mmaSync(), aReader, bReader, c, shape,
                    epilogue);
}
