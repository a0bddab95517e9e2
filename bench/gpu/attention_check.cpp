//===- attention_check.cpp - Tetra's flash-attention kernel on one GPU ----===//
//
// Reads the module tetra-opt wrote for bench/gpu/attention.mlir.in, runs the
// kernel on random inputs (causal, one sequence of S, H heads of D; stored
// as f32, or as bf16, which the NVIDIA kernel copies to shared memory
// asynchronously) and
//   numerics: compares 32 query rows (spread over the sequence and the
//             heads) with attention computed on the host in double,
//             max |gpu - ref| <= 3e-2 max |ref| (bf16 operands);
//   speed: TFLOP/s (4 S^2 H D / 2 for the causal half) against cuBLAS's bf16
//          GEMM at 8192^3 on the same device, the practical bf16 peak.
//
//===----------------------------------------------------------------------===//
#include "cuda_module.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

/// Peak bf16 throughput as cuBLAS reaches it (bf16 in, fp32 sums), 8192^3.
double cublasBf16Peak() {
  const int n = 8192;
  CUdeviceptr a, c;
  CU(cuMemAlloc(&a, size_t(n) * n * 2));
  CU(cuMemAlloc(&c, size_t(n) * n * 4));
  CU(cuMemsetD16(a, 0x3c00, size_t(n) * n));
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "attention_check: cublasCreate failed\n");
    std::exit(1);
  }
  float one = 1.f, zero = 0.f;
  double s = check::timeIt([&] {
    cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, (void *)a, CUDA_R_16BF, n,
                 (void *)a, CUDA_R_16BF, n, &zero, (void *)c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                 CUBLAS_GEMM_DEFAULT);
  });
  cublasDestroy(h);
  CU(cuMemFree(a));
  CU(cuMemFree(c));
  return 2.0 * n * n * n / s / 1e12;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: attention_check MODULE.mlir S H D [f32|bf16]\n");
    return 2;
  }
  const bool bf16 = argc == 6 && std::string(argv[5]) == "bf16";
  std::string text = check::readFile(argv[1]);
  long s = std::atol(argv[2]), heads = std::atol(argv[3]), d = std::atol(argv[4]);
  check::useDevice0();
  std::string kernel = "attention_1x" + std::to_string(s) + "x" + std::to_string(heads) + "x" +
                       std::to_string(d) + "_kv" + std::to_string(s) + "x" +
                       std::to_string(heads) + "_causal";
  long blocks = 0, threads = 0;
  CUfunction fn = check::loadKernel(text, kernel, blocks, threads);

  size_t count = size_t(s) * heads * d;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> q(count), k(count), v(count);
  for (auto *x : {&q, &k, &v})
    for (float &e : *x)
      e = bf16 ? __bfloat162float(__float2bfloat16(uniform(rng))) : uniform(rng);
  const size_t inputBytes = bf16 ? 2 : 4;
  CUdeviceptr dq, dk, dv, dout;
  for (CUdeviceptr *p : {&dq, &dk, &dv})
    CU(cuMemAlloc(p, count * inputBytes));
  CU(cuMemAlloc(&dout, count * 4));
  for (auto [device, host] : {std::pair{dq, &q}, std::pair{dk, &k}, std::pair{dv, &v}}) {
    if (!bf16) {
      CU(cuMemcpyHtoD(device, host->data(), count * 4));
      continue;
    }
    std::vector<__nv_bfloat16> rounded(count);
    std::transform(host->begin(), host->end(), rounded.begin(),
                   [](float x) { return __float2bfloat16(x); });
    CU(cuMemcpyHtoD(device, rounded.data(), count * 2));
  }

  check::KernelParams params;
  for (CUdeviceptr p : {dq, dk, dv, dout})
    params.memref(p, {1, s, heads, d});
  auto launch = [&] {
    CU(cuLaunchKernel(fn, blocks, 1, 1, threads, 1, 1, 0, nullptr, params.data(), nullptr));
  };
  launch();
  CU(cuCtxSynchronize());
  std::vector<float> out(count);
  CU(cuMemcpyDtoH(out.data(), dout, count * 4));

  // Reference rows in double.
  double worst = 0, largest = 0;
  const double scale = 1.0 / std::sqrt(double(d));
  for (int r = 0; r < 32; ++r) {
    long row = (r * (s - 1)) / 31, head = (r * 7) % heads;
    std::vector<double> p(row + 1);
    double top = -1e300, sum = 0;
    for (long j = 0; j <= row; ++j) {
      double dot = 0;
      for (long c = 0; c < d; ++c)
        dot += double(q[(row * heads + head) * d + c]) * k[(j * heads + head) * d + c];
      p[j] = dot * scale;
      top = std::max(top, p[j]);
    }
    for (double &x : p)
      sum += (x = std::exp(x - top));
    for (long c = 0; c < d; ++c) {
      double ref = 0;
      for (long j = 0; j <= row; ++j)
        ref += p[j] * v[(j * heads + head) * d + c];
      ref /= sum;
      largest = std::max(largest, std::fabs(ref));
      worst = std::max(worst, std::fabs(ref - out[(row * heads + head) * d + c]));
    }
  }
  const double tolerance = 3e-2;
  bool ok = worst <= tolerance * largest;

  double seconds = check::timeIt(launch, 5);
  double flops = 4.0 * double(s) * s * heads * d / 2; // causal: half the scores
  double ours = flops / seconds / 1e12, peak = cublasBf16Peak();
  std::printf("attention S=%ld H=%ld D=%ld causal, %s inputs: max |gpu - ref| = %.2e of max "
              "|ref| (tolerance %.0e) %s\n",
              s, heads, d, bf16 ? "bf16" : "f32", worst / largest, tolerance, ok ? "ok" : "FAILED");
  std::printf("  tetra flash-attention kernel %8.1f TFLOP/s (%.3f ms)\n", ours, seconds * 1e3);
  std::printf("  cuBLAS bf16 GEMM 8192^3      %8.1f TFLOP/s   tetra/peak = %.3f (target 0.5)\n",
              peak, ours / peak);
  return ok ? 0 : 1;
}
