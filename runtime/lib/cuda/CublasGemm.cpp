//===- CublasGemm.cpp - the vendor GEMM of GPU artifacts (--gemm vendor) ---===//
//
// C += op(A) op(B) on fp32 storage, as the generated tensor-core kernels
// compute it: inputs rounded to bf16 on the tensor cores, sums in fp32
// (CUBLAS_COMPUTE_32F_FAST_16BF). Row-major C is column-major C^T, so the
// call computes C^T = op(B)^T op(A)^T.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/MatrixDescriptor.h"

#include <cublas_v2.h>
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using Matrix = tetra::rt::MatrixDescriptor;

namespace {

[[noreturn]] void fail(const char *what, int status) {
  std::fprintf(stderr, "tetra-run: cuBLAS: %s failed (status %d)\n", what, status);
  std::exit(1);
}

cublasHandle_t handle() {
  thread_local cublasHandle_t h = nullptr;
  if (!h) {
    if (cublasStatus_t s = cublasCreate(&h); s != CUBLAS_STATUS_SUCCESS)
      fail("cublasCreate", s);
  }
  return h;
}

} // namespace

extern "C" void *mgpuStreamCreate();

extern "C" void _mlir_ciface_tetra_gpu_sgemm(int64_t transA, int64_t transB, Matrix *a,
                                              Matrix *b, Matrix *c) {
  int64_t m = c->sizes[0], n = c->sizes[1];
  int64_t k = transA ? a->sizes[0] : a->sizes[1];
  if (m == 0 || n == 0 || k == 0)
    return;
  if (a->strides[1] != 1 || b->strides[1] != 1 || c->strides[1] != 1) {
    std::fprintf(stderr, "tetra-run: cuBLAS: a matrix view with a non-unit inner stride "
                         "(recompile with --gemm tensor-cores)\n");
    std::exit(1);
  }
  auto stream = static_cast<cudaStream_t>(mgpuStreamCreate());
  cublasHandle_t h = handle();
  cublasSetStream(h, stream);
  float one = 1.0f;
  cublasStatus_t s = cublasGemmEx(
      h, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one,
      b->data(), CUDA_R_32F, b->strides[0], a->data(), CUDA_R_32F, a->strides[0], &one,
      c->data(), CUDA_R_32F, c->strides[0], CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT);
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cublasGemmEx", s);
  // The host code reads results right after: like a launch, wait.
  if (cuStreamSynchronize(reinterpret_cast<CUstream>(stream)) != CUDA_SUCCESS)
    fail("cuStreamSynchronize", 0);
}
