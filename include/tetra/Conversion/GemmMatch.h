//===- GemmMatch.h - recognise a 2-D matrix product ------------*- C++ -*-===//
//
// The CPU's BLAS calls and the GPU's tensor-core kernels serve the same
// linalg.generic: C[i, j] += A[i, r] B[r, j] on 2-D f32 memrefs, either
// operand possibly transposed.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_CONVERSION_GEMMMATCH_H
#define TETRA_CONVERSION_GEMMMATCH_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::tetra {

/// The operands of C[i, j] += A[i, r] B[r, j], as the generic reads them.
struct Gemm {
  Value a, b, c;
  bool transA = false, transB = false;
};

/// Recognises out(d0, d1) += x * y over d2 with x, y 2-D f32 memrefs.
std::optional<Gemm> matchGemm(linalg::GenericOp op);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_GEMMMATCH_H
