//===- cuda_module.h - what the GPU checks share --------------------------===//
//
// The checks read a module tetra-opt wrote (host function with its
// gpu.launch_func, gpu.binary with the cubin), load the cubin and launch the
// kernel with the launch's sizes.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_BENCH_GPU_CUDA_MODULE_H
#define TETRA_BENCH_GPU_CUDA_MODULE_H

#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#define CU(call)                                                                             \
  do {                                                                                       \
    CUresult r_ = (call);                                                                    \
    if (r_ != CUDA_SUCCESS) {                                                                \
      const char *s_ = nullptr;                                                              \
      cuGetErrorString(r_, &s_);                                                             \
      std::fprintf(stderr, "%s failed: %s\n", #call, s_ ? s_ : "?");                        \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

namespace check {

inline std::string readFile(const char *path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// The bytes of `bin = "..."`, undoing MLIR's escapes (\\ and \XX).
inline std::string objectOf(const std::string &text) {
  size_t start = text.find("bin = \"");
  if (start == std::string::npos) {
    std::fprintf(stderr, "no gpu.binary object in the module\n");
    std::exit(1);
  }
  std::string bytes;
  for (size_t i = start + 7; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && text[i + 1] == '\\') {
      bytes.push_back('\\');
      i += 1;
    } else if (text[i] == '\\') {
      bytes.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      bytes.push_back(text[i]);
    }
  }
  return bytes;
}

/// The launch's blocks and threads (x), from the host function's constants.
inline void launchOf(const std::string &text, const std::string &kernel, long &blocks,
                     long &threads) {
  std::smatch m;
  std::regex launch("gpu\\.launch_func\\s+@kernels::@" + kernel +
                    " blocks in \\((%\\w+), %\\w+, %\\w+\\) threads in \\((%\\w+),");
  if (!std::regex_search(text, m, launch)) {
    std::fprintf(stderr, "no launch of %s\n", kernel.c_str());
    std::exit(1);
  }
  auto constant = [&](const std::string &name) {
    std::smatch c;
    std::regex def(name + " = arith\\.constant (\\d+) : index");
    if (!std::regex_search(text, c, def)) {
      std::fprintf(stderr, "no constant %s\n", name.c_str());
      std::exit(1);
    }
    return std::stol(c[1]);
  };
  blocks = constant(m[1]);
  threads = constant(m[2]);
}

/// The primary context of device 0, current.
inline void useDevice0() {
  CU(cuInit(0));
  CUdevice dev;
  CU(cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CU(cuDevicePrimaryCtxRetain(&ctx, dev));
  CU(cuCtxSetCurrent(ctx));
}

/// The kernel `name` of the module's cubin, and its launch sizes.
inline CUfunction loadKernel(const std::string &text, const std::string &name, long &blocks,
                             long &threads) {
  static std::string object; // cuModuleLoadData reads it in place
  object = objectOf(text);
  CUmodule module;
  CU(cuModuleLoadData(&module, object.data()));
  CUfunction fn;
  CU(cuModuleGetFunction(&fn, module, name.c_str()));
  launchOf(text, name, blocks, threads);
  return fn;
}

/// A kernel's parameters as the lowering expands them: a memref is its
/// allocated and aligned pointers, its offset, sizes and strides
/// (row-major, contiguous).
class KernelParams {
public:
  void memref(CUdeviceptr p, const std::vector<long> &sizes) {
    pointers_.push_back(p);
    params_.push_back(&pointers_.back());
    params_.push_back(&pointers_.back());
    push(0);
    std::vector<long> strides(sizes.size(), 1);
    for (size_t i = sizes.size(); i-- > 1;)
      strides[i - 1] = strides[i] * sizes[i];
    for (long size : sizes)
      push(size);
    for (long stride : strides)
      push(stride);
  }
  void **data() { return params_.data(); }

private:
  void push(long v) {
    longs_.push_back(v);
    params_.push_back(&longs_.back());
  }
  std::deque<CUdeviceptr> pointers_; // deques: the addresses stay put
  std::deque<long> longs_;
  std::vector<void *> params_;
};

/// Mean seconds of `body` over `reps` runs, after one to warm up.
template <typename Body> double timeIt(Body &&body, int reps = 10) {
  CUevent start, stop;
  CU(cuEventCreate(&start, 0));
  CU(cuEventCreate(&stop, 0));
  body();
  CU(cuCtxSynchronize());
  CU(cuEventRecord(start, nullptr));
  for (int i = 0; i < reps; ++i)
    body();
  CU(cuEventRecord(stop, nullptr));
  CU(cuEventSynchronize(stop));
  float ms = 0;
  CU(cuEventElapsedTime(&ms, start, stop));
  return ms / 1e3 / reps;
}

} // namespace check

#endif // TETRA_BENCH_GPU_CUDA_MODULE_H
