//===- KernelSupport.cpp - functions the compiled kernels call -------------===//
//
// Exported by every program that loads kernels (tetra-run links with
// --export-dynamic), so a kernels.so resolves them when it is loaded.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/MatrixDescriptor.h"
#include "tetra/runtime/Trace.h"

#include <cblas.h>
#include <cstdint>

using Matrix = tetra::rt::MatrixDescriptor;

/// C[i, j] += sum_r A'[i, r] B'[r, j], A' = A or A^T, B' = B or B^T: a BLAS
/// sgemm with beta = 1, so C's initial value is kept.
extern "C" void _mlir_ciface_tetra_sgemm(int64_t transA, int64_t transB, Matrix *a,
                                          Matrix *b, Matrix *c) {
  int64_t m = c->sizes[0], n = c->sizes[1];
  int64_t k = transA ? a->sizes[0] : a->sizes[1];
  bool rowMajor = a->strides[1] == 1 && b->strides[1] == 1 && c->strides[1] == 1;
  if (rowMajor && m > 0 && n > 0 && k > 0) {
    // Each GEMM's time and shape, for tetra-calibrate's efficiency by size.
    tetra::rt::Trace &trace = tetra::rt::trace();
    double begin = trace.enabled() ? trace.now() : 0;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a->data(),
                static_cast<int>(a->strides[0]), b->data(), static_cast<int>(b->strides[0]),
                1.0f, c->data(), static_cast<int>(c->strides[0]));
    if (trace.enabled())
      trace.record("compute", "gemm", begin, trace.now(),
                   {{"m", static_cast<double>(m)},
                    {"n", static_cast<double>(n)},
                    {"k", static_cast<double>(k)}});
    return;
  }
  // Views BLAS cannot take (non-unit inner stride): plain loops.
  auto at = [](const Matrix *x, int64_t i, int64_t j) -> float & {
    return x->data()[i * x->strides[0] + j * x->strides[1]];
  };
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = at(c, i, j);
      for (int64_t r = 0; r < k; ++r)
        sum += (transA ? at(a, r, i) : at(a, i, r)) * (transB ? at(b, j, r) : at(b, r, j));
      at(c, i, j) = sum;
    }
}
