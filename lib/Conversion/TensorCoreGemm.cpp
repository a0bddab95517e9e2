//===- TensorCoreGemm.cpp - GEMM kernels on NVIDIA and AMD matrix cores ---===//
//
// Fragment layouts are the ones the PTX ISA documents for
// mma.m16n8k16 (.bf16 inputs, .f32 accumulators) and AMD's matrix instruction
// tables for v_mfma_f32_16x16x16bf16_1k. Each lane reads its fragment
// straight from global memory, rounding fp32 storage to bf16; rows and
// columns past the edge read as zero and are not written.
//
//===----------------------------------------------------------------------===//
#include "TensorCoreGemm.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tetra;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Index arithmetic at one insertion point.
struct IndexMath {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t y) { return add(x, c(y)); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, loc, x, c(y)); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, loc, x, c(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, loc, x, c(y)); }
  Value less(Value x, int64_t y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, c(y));
  }
};

/// The logical matrix `rows x cols` held in `memory` (transposed when
/// `swapped`): element (r, col) as f32, zero outside the matrix.
struct MatrixReader {
  Value memory;
  int64_t rows, cols;
  bool swapped;

  Value read(IndexMath &m, Value r, Value col) const {
    Value inRows = m.less(r, rows), inCols = m.less(col, cols);
    Value zeroIndex = m.c(0);
    Value rc = arith::SelectOp::create(m.b, m.loc, inRows, r, zeroIndex);
    Value cc = arith::SelectOp::create(m.b, m.loc, inCols, col, zeroIndex);
    Value v = swapped ? memref::LoadOp::create(m.b, m.loc, memory, ValueRange{cc, rc})
                      : memref::LoadOp::create(m.b, m.loc, memory, ValueRange{rc, cc});
    Value inside = arith::AndIOp::create(m.b, m.loc, inRows, inCols);
    Value zero = arith::ConstantFloatOp::create(m.b, m.loc, m.b.getF32Type(), APFloat(0.0f));
    return arith::SelectOp::create(m.b, m.loc, inside, v, zero);
  }
  Value readBf16(IndexMath &m, Value r, Value col) const {
    return arith::TruncFOp::create(m.b, m.loc, m.b.getBF16Type(), read(m, r, col));
  }
};

/// C[r, col] += value where (r, col) lies inside C.
void accumulate(IndexMath &m, Value c, int64_t rows, int64_t cols, Value r, Value col,
                Value value) {
  Value inside = arith::AndIOp::create(m.b, m.loc, m.less(r, rows), m.less(col, cols));
  auto guard = scf::IfOp::create(m.b, m.loc, inside, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(m.b);
  m.b.setInsertionPoint(guard.thenBlock()->getTerminator());
  Value old = memref::LoadOp::create(m.b, m.loc, c, ValueRange{r, col});
  Value sum = arith::AddFOp::create(m.b, m.loc, old, value);
  memref::StoreOp::create(m.b, m.loc, sum, c, ValueRange{r, col});
}

/// The tile this warp (wave) owns, or nothing past the last tile.
struct Tile {
  Value row, col, lane;
  scf::IfOp guard;
};

Tile ownTile(IndexMath &m, int64_t laneCount, int64_t groupsPerBlock, int64_t tiles,
             int64_t tilesAcross, int64_t tileRows, int64_t tileCols) {
  Value tid = gpu::ThreadIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(m.b, m.loc, gpu::Dimension::x);
  Value group = m.add(m.mul(bid, groupsPerBlock), m.div(tid, laneCount));
  Tile t;
  t.lane = m.rem(tid, laneCount);
  t.guard = scf::IfOp::create(m.b, m.loc, m.less(group, tiles), /*withElseRegion=*/false);
  m.b.setInsertionPoint(t.guard.thenBlock()->getTerminator());
  t.row = m.mul(m.div(group, tilesAcross), tileRows);
  t.col = m.mul(m.rem(group, tilesAcross), tileCols);
  return t;
}

/// Two bf16 in one 32-bit register, the first in the low half.
Value packPair(IndexMath &m, Value lo, Value hi) {
  auto pair = VectorType::get({2}, m.b.getBF16Type());
  Value v = vector::FromElementsOp::create(m.b, m.loc, pair, ValueRange{lo, hi});
  return LLVM::BitcastOp::create(m.b, m.loc, m.b.getI32Type(), v);
}

LaunchShape buildMmaSync(IndexMath &m, const MatrixReader &a, const MatrixReader &bm, Value c,
                         const GemmShape &s) {
  constexpr int64_t kWarps = 4;
  int64_t tilesAcross = ceilDiv(s.n, 8), tiles = ceilDiv(s.m, 16) * tilesAcross;
  OpBuilder::InsertionGuard g(m.b);
  Tile tile = ownTile(m, 32, kWarps, tiles, tilesAcross, 16, 8);
  Value group = m.div(tile.lane, 4), pairCol = m.mul(m.rem(tile.lane, 4), 2);
  Value row0 = m.add(tile.row, group), row1 = m.add(row0, 8);
  Value bCol = m.add(tile.col, group);
  Type f32 = m.b.getF32Type();
  Value zero = arith::ConstantFloatOp::create(m.b, m.loc, m.b.getF32Type(), APFloat(0.0f));
  auto loop = scf::ForOp::create(
      m.b, m.loc, m.c(0), m.c(s.k), m.c(16), ValueRange{zero, zero, zero, zero},
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
        IndexMath n{nb, loc};
        Value kBase = n.add(k0, pairCol);
        SmallVector<Value> aRegs, bRegs;
        // Registers 0..3 (bf16 elements a0..a7): rows g, g+8; columns 2t, 2t+8
        // (pairs along k).
        for (int r = 0; r < 4; ++r) {
          Value row = r % 2 ? row1 : row0;
          Value col = n.add(kBase, 8 * (r / 2));
          aRegs.push_back(packPair(n, a.readBf16(n, row, col), a.readBf16(n, row, n.add(col, 1))));
        }
        // b0, b1: rows (k) 2t and 2t+8 (pairs), column g.
        for (int r = 0; r < 2; ++r) {
          Value k = n.add(kBase, 8 * r);
          bRegs.push_back(packPair(n, bm.readBf16(n, k, bCol), bm.readBf16(n, n.add(k, 1), bCol)));
        }
        auto resultType = LLVM::LLVMStructType::getLiteral(nb.getContext(), {f32, f32, f32, f32});
        Value d = NVVM::MmaOp::create(
            nb, loc, resultType, aRegs, bRegs, acc, {16, 8, 16}, std::nullopt, std::nullopt,
            std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
            std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
        SmallVector<Value> next;
        for (int64_t i = 0; i < 4; ++i)
          next.push_back(LLVM::ExtractValueOp::create(nb, loc, d, i));
        scf::YieldOp::create(nb, loc, next);
      });
  // c0, c1: row g, columns 2t, 2t+1; c2, c3: row g+8.
  Value col0 = m.add(tile.col, pairCol), col1 = m.add(col0, 1);
  Value rows[4] = {row0, row0, row1, row1}, cols[4] = {col0, col1, col0, col1};
  for (int i = 0; i < 4; ++i)
    accumulate(m, c, s.m, s.n, rows[i], cols[i], loop.getResult(i));
  return {std::max<int64_t>(1, ceilDiv(tiles, kWarps)), kWarps * 32};
}

LaunchShape buildMfma(IndexMath &m, const MatrixReader &a, const MatrixReader &bm, Value c,
                      const GemmShape &s) {
  constexpr int64_t kWaves = 4;
  int64_t tilesAcross = ceilDiv(s.n, 16), tiles = ceilDiv(s.m, 16) * tilesAcross;
  OpBuilder::InsertionGuard g(m.b);
  Tile tile = ownTile(m, 64, kWaves, tiles, tilesAcross, 16, 16);
  Value lane16 = m.rem(tile.lane, 16), quad = m.mul(m.div(tile.lane, 16), 4);
  auto accType = VectorType::get({4}, m.b.getF32Type());
  auto operandType = VectorType::get({4}, m.b.getBF16Type());
  Value zeros = arith::ConstantOp::create(
      m.b, m.loc, accType, DenseElementsAttr::get(accType, m.b.getF32FloatAttr(0.0f)));
  auto loop = scf::ForOp::create(
      m.b, m.loc, m.c(0), m.c(s.k), m.c(16), ValueRange{zeros},
      [&](OpBuilder &nb, Location loc, Value k0, ValueRange acc) {
        IndexMath n{nb, loc};
        Value kBase = n.add(k0, quad);
        SmallVector<Value> aVals, bVals;
        // Lane l holds A[l % 16][4 (l / 16) + i] and B[4 (l / 16) + i][l % 16].
        for (int64_t i = 0; i < 4; ++i) {
          Value k = n.add(kBase, i);
          aVals.push_back(a.readBf16(n, n.add(tile.row, lane16), k));
          bVals.push_back(bm.readBf16(n, k, n.add(tile.col, lane16)));
        }
        Value av = vector::FromElementsOp::create(nb, loc, operandType, aVals);
        Value bv = vector::FromElementsOp::create(nb, loc, operandType, bVals);
        Value d = amdgpu::MFMAOp::create(nb, loc, accType, 16, 16, 16, 1, av, bv, acc[0]);
        scf::YieldOp::create(nb, loc, d);
      });
  // Lane l holds D[4 (l / 16) + i][l % 16].
  Value col = m.add(tile.col, lane16);
  for (int64_t i = 0; i < 4; ++i) {
    Value row = m.add(m.add(tile.row, quad), i);
    Value v = vector::ExtractOp::create(m.b, m.loc, loop.getResult(0), i);
    accumulate(m, c, s.m, s.n, row, col, v);
  }
  return {std::max<int64_t>(1, ceilDiv(tiles, kWaves)), kWaves * 64};
}

} // namespace

LaunchShape mlir::tetra::buildTensorCoreGemm(OpBuilder &b, Location loc, StringRef target, Value a,
                                             Value bMatrix, Value c, const GemmShape &shape) {
  IndexMath m{b, loc};
  MatrixReader aReader{a, shape.m, shape.k, shape.transA};
  MatrixReader bReader{bMatrix, shape.k, shape.n, shape.transB};
  if (target == "rocdl")
    return buildMfma(m, aReader, bReader, c, shape);
  return buildMmaSync(m, aReader, bReader, c, shape);
}
