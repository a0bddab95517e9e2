//===- KernelMath.h - index arithmetic and bf16 packing in kernels --------===//
#ifndef TETRA_LIB_CONVERSION_KERNELMATH_H
#define TETRA_LIB_CONVERSION_KERNELMATH_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
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

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_KERNELMATH_H
