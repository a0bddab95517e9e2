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

/// Recognises out(d0, d1) += x * y over d2 with x, y 2-D f32 memrefs.
std::optional<Gemm> matchGemm(linalg::GenericOp op);

/// Declares (once) `void NAME(i64 transA, i64 transB, A, B, C)` on fully
/// dynamic strided 2-D f32 memrefs, with a C interface: the GEMM a library
/// serves (the runtime defines _mlir_ciface_NAME).
func::FuncOp declareGemmFunction(ModuleOp module, StringRef name);

/// Replaces the matched generic by a call of `callee` (C += op(A) op(B)).
void replaceWithGemmCall(linalg::GenericOp op, const Gemm &gemm, func::FuncOp callee);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_GEMMMATCH_H
