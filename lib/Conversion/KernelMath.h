//===- KernelMath.h - index arithmetic and bf16 packing in kernels --------===//
#ifndef TETRA_LIB_CONVERSION_KERNELMATH_H
#define TETRA_LIB_CONVERSION_KERNELMATH_H

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::tetra {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
  Value less(Value x, int64_t y) { return less(x, c(y)); }
  Value less(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
};

/// Two bf16 in one 32-bit register, the first in the low half (the
/// operand registers of mma.sync).
inline Value packBf16Pair(IndexMath &m, Value lo, Value hi) {
  auto pair = VectorType::get({2}, m.b.getBF16Type());
  Value v = vector::FromElementsOp::create(m.b, m.loc, pair, ValueRange{lo, hi});
  return LLVM::BitcastOp::create(m.b, m.loc, m.b.getI32Type(), v);
}

/// Four bf16 as the vector<4xbf16> operand MFMA takes.
inline Value packBf16Quad(IndexMath &m, ValueRange values) {
  return vector::FromElementsOp::create(m.b, m.loc, VectorType::get({4}, m.b.getBF16Type()),
                                        values);
}

/// `count` consecutive bf16 of `memory` from `indices` (along its last,
/// contiguous dimension) in one vector load; the caller keeps them
/// aligned to their size.
inline Value loadBf16Run(IndexMath &m, Value memory, ValueRange indices, int64_t count) {
  auto type = VectorType::get({count}, m.b.getBF16Type());
  return vector::LoadOp::create(m.b, m.loc, type, memory, indices);
}

/// The elements of `type` a thread copies at once along its last,
/// contiguous dimension: 16 bytes (one ld.global.v4 / global_load_dwordx4)
/// where every run is whole and aligned (identity layout, the last
/// dimension a multiple of the run), else one.
inline int64_t copyRun(MemRefType type) {
  constexpr int64_t kRunBytes = 16;
  int64_t run = kRunBytes / (type.getElementTypeBitWidth() / 8);
  return type.getLayout().isIdentity() && type.getShape().back() % run == 0 ? run : 1;
}

/// `indices` where `inside` holds, else index 0 in every dimension, so a
/// guarded access outside the memory still names a real element.
inline SmallVector<Value> clampedIndices(IndexMath &m, ValueRange indices, Value inside) {
  SmallVector<Value> at;
  Value zeroIndex = m.c(0);
  for (Value index : indices)
    at.push_back(arith::SelectOp::create(m.b, m.loc, inside, index, zeroIndex));
  return at;
}

/// `run` consecutive elements of `memory` (fp32 or bf16) from `indices`
/// on, along its last dimension, as bf16: a vector of them, or one for a
/// run of one; zeros where `inside` is false, which reads index 0 instead.
/// The caller keeps runs aligned to their size.
inline Value loadBf16Guarded(IndexMath &m, Value memory, ValueRange indices, Value inside,
                             int64_t run) {
  SmallVector<Value> at = clampedIndices(m, indices, inside);
  Type element = llvm::cast<MemRefType>(memory.getType()).getElementType();
  Type bf16 = m.b.getBF16Type();
  Value v, zero;
  if (run == 1) {
    v = memref::LoadOp::create(m.b, m.loc, memory, at);
    zero = arith::ConstantFloatOp::create(m.b, m.loc, llvm::cast<FloatType>(bf16),
                                          APFloat::getZero(APFloat::BFloat()));
  } else {
    int64_t bytes = run * element.getIntOrFloatBitWidth() / 8;
    v = vector::LoadOp::create(m.b, m.loc, VectorType::get({run}, element), memory, at,
                               /*nontemporal=*/false, llvm::Align(bytes));
    bf16 = VectorType::get({run}, bf16);
    zero = arith::ConstantOp::create(
        m.b, m.loc,
        DenseElementsAttr::get(llvm::cast<ShapedType>(bf16), APFloat::getZero(APFloat::BFloat())));
  }
  if (!element.isBF16())
    v = arith::TruncFOp::create(m.b, m.loc, bf16, v);
  return arith::SelectOp::create(m.b, m.loc, inside, v, zero);
}

/// Stores what loadBf16Guarded gave (a bf16, or a vector of them) at
/// `indices` of the bf16 `memory`, along its last dimension, in one store.
inline void storeBf16Run(IndexMath &m, Value v, Value memory, ValueRange indices) {
  if (auto vector = llvm::dyn_cast<VectorType>(v.getType())) {
    vector::StoreOp::create(m.b, m.loc, v, memory, indices, /*nontemporal=*/false,
                            llvm::Align(2 * vector.getNumElements()));
    return;
  }
  memref::StoreOp::create(m.b, m.loc, v, memory, indices);
}

/// The bf16 elements of one asynchronous copy: 16 bytes, cp.async's most.
constexpr int64_t kAsyncRun = 8;

/// Whether runs of `source` can go from global to shared memory without
/// passing through registers (cp.async, sm_80 on): bf16 already, so no
/// rounding on the way, and in whole 16-byte runs.
inline bool copiesAsynchronously(StringRef target, MemRefType source) {
  return target == "nvvm" && source.getElementType().isBF16() && copyRun(source) == kAsyncRun;
}
inline bool copiesAsynchronously(StringRef target, Value source) {
  return copiesAsynchronously(target, llvm::cast<MemRefType>(source.getType()));
}

/// Starts the copy of one 16-byte run of `source` from `indices` to the
/// shared `tile` at `tileIndices` (cp.async.cg); zeros land instead where
/// `inside` is false, and nothing is read (index 0 is named). The copy
/// belongs to the next group committed (commitCopies) and its bytes are
/// there only once a wait covers that group (waitForCopies).
inline Value copyRunAsync(IndexMath &m, Value source, ValueRange indices, Value inside,
                          Value tile, ValueRange tileIndices) {
  Value read = arith::SelectOp::create(m.b, m.loc, inside, m.c(kAsyncRun), m.c(0));
  return nvgpu::DeviceAsyncCopyOp::create(
      m.b, m.loc, m.b.getType<nvgpu::DeviceAsyncTokenType>(), tile, tileIndices, source,
      clampedIndices(m, indices, inside), m.b.getIndexAttr(kAsyncRun), read, m.b.getUnitAttr());
}

/// Commits the copies started since the last commit as one group.
inline Value commitCopies(IndexMath &m, ValueRange copies) {
  return nvgpu::DeviceAsyncCreateGroupOp::create(
      m.b, m.loc, m.b.getType<nvgpu::DeviceAsyncTokenType>(), copies);
}

/// Waits until this thread's committed copies have landed (other threads'
/// need a barrier after their own wait).
inline void waitForCopies(IndexMath &m, Value group) {
  nvgpu::DeviceAsyncWaitOp::create(m.b, m.loc, group, m.b.getI32IntegerAttr(0));
}

/// Two consecutive bf16 of `memory` as the 32-bit register mma.sync takes
/// (the first in the low half), in one load.
inline Value loadBf16Pair(IndexMath &m, Value memory, ValueRange indices) {
  return LLVM::BitcastOp::create(m.b, m.loc, m.b.getI32Type(),
                                 loadBf16Run(m, memory, indices, 2));
}

/// D = A B + C by one warp-wide mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32:
/// four A registers, two B registers (bf16 pairs), four f32 accumulators;
/// returns D's four accumulators.
inline SmallVector<Value> mmaSyncBf16(OpBuilder &b, Location loc, ValueRange a, ValueRange bRegs,
                                      ValueRange acc) {
  Type f32 = b.getF32Type();
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

/// D = A B + C by one wave-wide v_mfma_f32_16x16x16bf16_1k: A and B a
/// vector<4xbf16> each, C four f32; returns D's four accumulators.
inline SmallVector<Value> mfmaBf16(OpBuilder &b, Location loc, Value av, Value bv,
                                   ValueRange acc) {
  auto accType = VectorType::get({4}, b.getF32Type());
  Value cv = vector::FromElementsOp::create(b, loc, accType, acc);
  Value d = amdgpu::MFMAOp::create(b, loc, accType, 16, 16, 16, 1, av, bv, cv);
  SmallVector<Value> next;
  for (int64_t i = 0; i < 4; ++i)
    next.push_back(vector::ExtractOp::create(b, loc, d, i));
  return next;
}
/// The same with A and B four bf16 scalars each.
inline SmallVector<Value> mfmaBf16(OpBuilder &b, Location loc, ValueRange a, ValueRange bVals,
                                   ValueRange acc) {
  IndexMath m{b, loc};
  return mfmaBf16(b, loc, packBf16Quad(m, a), packBf16Quad(m, bVals), acc);
}

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_KERNELMATH_H
