//===- attention_grad_check.cpp - Tetra's flash-attention backward on a GPU ===//
//
// Reads the module tetra-opt wrote for bench/gpu/attention_grad.mlir.in
// (causal, one sequence of S, H heads of D), runs the forward kernel (which
// writes the log-sum-exp), takes delta = rowsum(grad * out) on the host, then
// the query-gradient and key/value-gradient kernels, and
//   numerics: with CHECK_ROWS > 0 (the default 16; 0 skips it), that many rows
//             of dQ, dK and dV in two heads against the gradients computed
//             on the host in double from the inputs alone (its own
//             log-sum-exp), max |gpu - ref| <= 3e-2 max |ref| each;
//   speed: TFLOP/s of the two backward kernels, counting FlashAttention-2's
//          5 products of 2 S^2 D a head, halved for the causal mask.
//
//===----------------------------------------------------------------------===//
#include "cuda_module.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

struct Problem {
  long s, heads, d;
  std::vector<float> q, k, v, grad;
  size_t at(long row, long head, long c) const { return (size_t(row) * heads + head) * d + c; }
  double score(long i, long j, long head) const {
    double dot = 0;
    for (long c = 0; c < d; ++c)
      dot += double(q[at(i, head, c)]) * k[at(j, head, c)];
    return dot / std::sqrt(double(d));
  }
  double dot(const std::vector<float> &x, long i, const std::vector<float> &y, long j,
             long head) const {
    double sum = 0;
    for (long c = 0; c < d; ++c)
      sum += double(x[at(i, head, c)]) * y[at(j, head, c)];
    return sum;
  }
};

/// One head's log-sum-exp and delta for every query, in double.
void rowStatistics(const Problem &p, long head, std::vector<double> &lse,
                   std::vector<double> &delta) {
  lse.assign(p.s, 0);
  delta.assign(p.s, 0);
  std::vector<double> scores(p.s), out(p.d);
  for (long i = 0; i < p.s; ++i) {
    double top = -1e300;
    for (long j = 0; j <= i; ++j)
      top = std::max(top, scores[j] = p.score(i, j, head));
    double sum = 0;
    std::fill(out.begin(), out.end(), 0.0);
    for (long j = 0; j <= i; ++j) {
      double e = std::exp(scores[j] - top);
      sum += e;
      for (long c = 0; c < p.d; ++c)
        out[c] += e * p.v[p.at(j, head, c)];
    }
    lse[i] = top + std::log(sum);
    for (long c = 0; c < p.d; ++c)
      delta[i] += out[c] / sum * p.grad[p.at(i, head, c)];
  }
}

/// max |gpu - ref| / max |ref| over the rows checked.
struct Error {
  double worst = 0, largest = 0;
  void add(double ref, double got) {
    largest = std::max(largest, std::fabs(ref));
    worst = std::max(worst, std::fabs(ref - got));
  }
  double relative() const { return largest > 0 ? worst / largest : 0; }
};

} // namespace

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: attention_grad_check MODULE.mlir S H D\n");
    return 2;
  }
  std::string text = check::readFile(argv[1]);
  Problem p{std::atol(argv[2]), std::atol(argv[3]), std::atol(argv[4]), {}, {}, {}, {}};
  const char *rowsEnv = std::getenv("CHECK_ROWS");
  long checkRows = rowsEnv ? std::atol(rowsEnv) : 16;
  check::useDevice0();
  std::string shape = "1x" + std::to_string(p.s) + "x" + std::to_string(p.heads) + "x" +
                      std::to_string(p.d) + "_kv" + std::to_string(p.s) + "x" +
                      std::to_string(p.heads) + "_causal";
  long fwdBlocks, fwdThreads, qBlocks, qThreads, kvBlocks, kvThreads;
  CUfunction forward = check::loadKernel(text, "attention_" + shape + "_lse", fwdBlocks, fwdThreads);
  CUfunction queryGrad =
      check::loadKernel(text, "attention_grad_query_" + shape, qBlocks, qThreads);
  CUfunction kvGrad = check::loadKernel(text, "attention_grad_kv_" + shape, kvBlocks, kvThreads);

  size_t count = size_t(p.s) * p.heads * p.d, rows = size_t(p.s) * p.heads;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (auto *x : {&p.q, &p.k, &p.v, &p.grad}) {
    x->resize(count);
    for (float &e : *x)
      e = uniform(rng);
  }
  CUdeviceptr dq, dk, dv, dout, dgrad, dqg, dkg, dvg, dlse, ddelta;
  for (CUdeviceptr *b : {&dq, &dk, &dv, &dout, &dgrad, &dqg, &dkg, &dvg})
    CU(cuMemAlloc(b, count * 4));
  CU(cuMemAlloc(&dlse, rows * 4));
  CU(cuMemAlloc(&ddelta, rows * 4));
  CU(cuMemcpyHtoD(dq, p.q.data(), count * 4));
  CU(cuMemcpyHtoD(dk, p.k.data(), count * 4));
  CU(cuMemcpyHtoD(dv, p.v.data(), count * 4));
  CU(cuMemcpyHtoD(dgrad, p.grad.data(), count * 4));

  std::vector<long> full{1, p.s, p.heads, p.d}, row{1, p.s, p.heads};
  check::KernelParams fwdParams, qParams, kvParams;
  for (CUdeviceptr b : {dq, dk, dv, dout})
    fwdParams.memref(b, full);
  fwdParams.memref(dlse, row);
  for (check::KernelParams *params : {&qParams, &kvParams}) {
    for (CUdeviceptr b : {dq, dk, dv, dgrad})
      params->memref(b, full);
    params->memref(dlse, row);
    params->memref(ddelta, row);
  }
  qParams.memref(dqg, full);
  kvParams.memref(dkg, full);
  kvParams.memref(dvg, full);

  CU(cuLaunchKernel(forward, fwdBlocks, 1, 1, fwdThreads, 1, 1, 0, nullptr, fwdParams.data(),
                    nullptr));
  CU(cuCtxSynchronize());
  std::vector<float> out(count), delta(rows, 0.f);
  CU(cuMemcpyDtoH(out.data(), dout, count * 4));
  for (size_t r = 0; r < rows; ++r)
    for (long c = 0; c < p.d; ++c)
      delta[r] += out[r * p.d + c] * p.grad[r * p.d + c];
  CU(cuMemcpyHtoD(ddelta, delta.data(), rows * 4));
  auto backward = [&] {
    CU(cuLaunchKernel(queryGrad, qBlocks, 1, 1, qThreads, 1, 1, 0, nullptr, qParams.data(),
                      nullptr));
    CU(cuLaunchKernel(kvGrad, kvBlocks, 1, 1, kvThreads, 1, 1, 0, nullptr, kvParams.data(),
                      nullptr));
  };
  backward();
  CU(cuCtxSynchronize());
  std::vector<float> gq(count), gk(count), gv(count);
  CU(cuMemcpyDtoH(gq.data(), dqg, count * 4));
  CU(cuMemcpyDtoH(gk.data(), dkg, count * 4));
  CU(cuMemcpyDtoH(gv.data(), dvg, count * 4));

  const double tolerance = 3e-2;
  bool ok = true;
  if (checkRows > 0) {
    // dQ_i = scale sum_j P_ij (dP_ij - delta_i) k_j; dK_j and dV_j over the
    // queries i >= j that see key j (no GQA here: one query head a key head).
    Error eq, ek, ev;
    const double scale = 1.0 / std::sqrt(double(p.d));
    for (long head : {0L, p.heads - 1}) {
      std::vector<double> lse, dl;
      rowStatistics(p, head, lse, dl);
      for (long r = 0; r < checkRows; ++r) {
        long i = (r * (p.s - 1)) / std::max(1L, checkRows - 1);
        std::vector<double> dqRef(p.d, 0), dkRef(p.d, 0), dvRef(p.d, 0);
        for (long j = 0; j <= i; ++j) {
          double prob = std::exp(p.score(i, j, head) - lse[i]);
          double ds = prob * (p.dot(p.grad, i, p.v, j, head) - dl[i]) * scale;
          for (long c = 0; c < p.d; ++c)
            dqRef[c] += ds * p.k[p.at(j, head, c)];
        }
        for (long a = i; a < p.s; ++a) { // key i, its queries a
          double prob = std::exp(p.score(a, i, head) - lse[a]);
          double ds = prob * (p.dot(p.grad, a, p.v, i, head) - dl[a]) * scale;
          for (long c = 0; c < p.d; ++c) {
            dkRef[c] += ds * p.q[p.at(a, head, c)];
            dvRef[c] += prob * p.grad[p.at(a, head, c)];
          }
        }
        for (long c = 0; c < p.d; ++c) {
          eq.add(dqRef[c], gq[p.at(i, head, c)]);
          ek.add(dkRef[c], gk[p.at(i, head, c)]);
          ev.add(dvRef[c], gv[p.at(i, head, c)]);
        }
      }
    }
    for (auto [name, e] : {std::pair{"dQ", eq}, std::pair{"dK", ek}, std::pair{"dV", ev}}) {
      bool good = e.relative() <= tolerance;
      ok &= good;
      std::printf("attention backward S=%ld H=%ld D=%ld causal: %s max |gpu - ref| = %.2e of "
                  "max |ref| (tolerance %.0e) %s\n",
                  p.s, p.heads, p.d, name, e.relative(), tolerance, good ? "ok" : "FAILED");
    }
  }
  double seconds = check::timeIt(backward, 5);
  double flops = 5 * 2.0 * double(p.s) * p.s * p.heads * p.d / 2;
  std::printf("  tetra flash-attention backward (both kernels) %8.1f TFLOP/s (%.3f ms)\n",
              flops / seconds / 1e12, seconds * 1e3);
  return ok ? 0 : 1;
}
