//===- gemm_check.cpp - Tetra's tensor-core GEMM kernel against cuBLAS -----===//
//
// Reads the module tetra-opt wrote for bench/gpu/gemm.mlir.in (host function
// with its gpu.launch_func, gpu.binary with the cubin), launches the kernel
// on random inputs, stored as f32 or (a fifth argument) as bf16, and
// compares it with cuBLAS:
//   numerics: against cuBLAS in full fp32 (CUBLAS_COMPUTE_32F) on the same
//             values, normwise;
//   speed: against cuBLAS on the same fp32 storage with bf16 tensor cores
//          (CUBLAS_COMPUTE_32F_FAST_16BF, the same arithmetic), and against
//          cuBLAS on bf16 storage, the device's practical bf16 peak (for
//          bf16 inputs, the same work).
//
//===----------------------------------------------------------------------===//
#include "cuda_module.h"

#include <cublas_v2.h>
#include <cuda.h>
#include <cuda_bf16.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#define BLAS(call)                                                                           \
  do {                                                                                       \
    cublasStatus_t s_ = (call);                                                              \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                       \
      std::fprintf(stderr, "gemm_check: %s failed: status %d\n", #call, int(s_));           \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)


int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: gemm_check MODULE.mlir M N K [f32|bf16]\n");
    return 2;
  }
  const bool bf16In = argc == 6 && std::string(argv[5]) == "bf16";
  std::string text = check::readFile(argv[1]);
  long m = std::atol(argv[2]), n = std::atol(argv[3]), k = std::atol(argv[4]);
  check::useDevice0();
  // The outlining names GEMM kernels after their shape (y += x w^T: "nt").
  std::string kernel = "gemm_" + std::to_string(m) + "x" + std::to_string(n) + "x" +
                       std::to_string(k) + "_nt";
  long blocks = 0, threads = 0;
  CUfunction fn = check::loadKernel(text, kernel, blocks, threads);

  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> x(m * k), w(n * k);
  // bf16 inputs are the rounded values, which the fp32 reference sees too.
  auto draw = [&] {
    float v = uniform(rng);
    return bf16In ? __bfloat162float(__float2bfloat16(v)) : v;
  };
  for (float &v : x)
    v = draw();
  for (float &v : w)
    v = draw();
  std::vector<__nv_bfloat16> xb(x.size()), wb(w.size());
  for (size_t i = 0; i < x.size(); ++i)
    xb[i] = __float2bfloat16(x[i]);
  for (size_t i = 0; i < w.size(); ++i)
    wb[i] = __float2bfloat16(w[i]);
  CUdeviceptr dx, dw, dy, dref, dxb, dwb;
  CU(cuMemAlloc(&dx, x.size() * 4));
  CU(cuMemAlloc(&dw, w.size() * 4));
  CU(cuMemAlloc(&dy, m * n * 4));
  CU(cuMemAlloc(&dref, m * n * 4));
  CU(cuMemAlloc(&dxb, x.size() * 2));
  CU(cuMemAlloc(&dwb, w.size() * 2));
  CU(cuMemcpyHtoD(dx, x.data(), x.size() * 4));
  CU(cuMemcpyHtoD(dw, w.data(), w.size() * 4));
  CU(cuMemcpyHtoD(dxb, xb.data(), xb.size() * 2));
  CU(cuMemcpyHtoD(dwb, wb.data(), wb.size() * 2));

  check::KernelParams params;
  params.memref(bf16In ? dxb : dx, {m, k});
  params.memref(bf16In ? dwb : dw, {n, k});
  params.memref(dy, {m, n});
  auto launch = [&] {
    CU(cuLaunchKernel(fn, blocks, 1, 1, threads, 1, 1, 0, nullptr, params.data(), nullptr));
  };

  cublasHandle_t h;
  BLAS(cublasCreate(&h));
  float one = 1.f, zero = 0.f;
  // y = x w^T, row-major: y^T = w x^T in column-major.
  auto blas = [&](CUdeviceptr out, CUdeviceptr xs, CUdeviceptr ws, cudaDataType in,
                  cublasComputeType_t compute) {
    BLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one, (void *)ws, in, k,
                      (void *)xs, in, k, &zero, (void *)out, CUDA_R_32F, n, compute,
                      CUBLAS_GEMM_DEFAULT));
  };

  // Numerics: one launch into zeros against fp32 cuBLAS.
  CU(cuMemsetD32(dy, 0, m * n));
  launch();
  blas(dref, dx, dw, CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC);
  CU(cuCtxSynchronize());
  std::vector<float> y(m * n), ref(m * n);
  CU(cuMemcpyDtoH(y.data(), dy, y.size() * 4));
  CU(cuMemcpyDtoH(ref.data(), dref, ref.size() * 4));
  double diff = 0, norm = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    diff += (y[i] - ref[i]) * double(y[i] - ref[i]);
    norm += ref[i] * double(ref[i]);
  }
  double relative = std::sqrt(diff / norm);
  // bf16 keeps 8 significant bits: each product is off by up to 2^-8
  // relative, random in sign, so the normwise error stays near 2^-8. On
  // bf16 inputs the products are exact and only the fp32 sums differ.
  const double tolerance = bf16In ? 1e-4 : 1e-2;

  auto timeIt = [](auto &&body) { return check::timeIt(body); };
  double flops = 2.0 * m * n * k;
  double ours = timeIt(launch);
  double fast16 = timeIt([&] { blas(dref, dx, dw, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF); });
  double bf16 = timeIt([&] { blas(dref, dxb, dwb, CUDA_R_16BF, CUBLAS_COMPUTE_32F); });
  auto tf = [&](double s) { return flops / s / 1e12; };
  std::printf("gemm %ldx%ldx%ld, %s inputs: error vs fp32 cuBLAS %.2e (tolerance %.0e) %s\n", m,
              n, k, bf16In ? "bf16" : "f32", relative, tolerance,
              relative < tolerance ? "ok" : "FAILED");
  std::printf("  tetra tensor-core kernel   %8.1f TFLOP/s\n", tf(ours));
  std::printf("  cuBLAS fp32 in, bf16 TC    %8.1f TFLOP/s   tetra/cuBLAS = %.3f\n", tf(fast16),
              fast16 / ours);
  std::printf("  cuBLAS bf16 in (peak ref)  %8.1f TFLOP/s   tetra/peak   = %.3f\n", tf(bf16),
              bf16 / ours);
  return relative < tolerance ? 0 : 1;
}
