//===- GemmMatch.h - recognise a 2-D matrix product ------------*- C++ -*-===//
//
// The CPU's BLAS calls, the GPU's tensor-core kernels and its vendor-library
// calls serve the same linalg.generic: C[i, j] += A[i, r] B[r, j] on 2-D f32
// memrefs, either operand possibly transposed.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_CONVERSION_GEMMMATCH_H
#define TETRA_CONVERSION_GEMMMATCH_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace mlir::tetra {

/// The operands of C[i, j] += A[i, r] B[r, j], as the generic reads them.
struct Gemm {
  Value a, b, c;
  bool transA = false, transB = false;
};

/// Whether the generic's body is yield(out + x * y) of its two inputs and
/// its output, with any of them stored as bf16: an input widened
/// (arith.extf) where it is read, a bf16 output widened before the add and
/// the sum rounded back (arith.truncf). The GPU kernels keep the sum in
/// fp32 registers and round it once, when they store it.
bool isProductBody(linalg::GenericOp op);

/// Recognises out(d0, d1) += x * y over d2 with x, y and out 2-D f32 or
/// bf16 tensors or memrefs, x indexed (d0, d2) or (d2, d0) and y (d2, d1)
/// or (d1, d2).
std::optional<Gemm> matchProduct(linalg::GenericOp op);

/// matchProduct on buffers: the products the kernels serve.
std::optional<Gemm> matchGemm(linalg::GenericOp op);

/// Whether A, B and C are all fp32 (what the BLAS calls take).
bool isFp32Gemm(const Gemm &gemm);

/// Declares (once) `void NAME(i64 transA, i64 transB, A, B, C)` on fully
/// dynamic strided 2-D f32 memrefs, with a C interface: the GEMM a library
/// serves (the runtime defines _mlir_ciface_NAME).
func::FuncOp declareGemmFunction(ModuleOp module, StringRef name);

/// Replaces the matched generic by a call of `callee` (C += op(A) op(B)).
void replaceWithGemmCall(linalg::GenericOp op, const Gemm &gemm, func::FuncOp callee);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_GEMMMATCH_H
