//===- CudaDevice.cpp - the CUDA backend: driver API under mgpu* ----------===//
//
// The compiled host code calls mgpuModuleLoad (from a constructor, with the
// cubin tetra-compile embedded), mgpuModuleGetFunction, and, for each run of
// launches (tetra-stream-gpu-launches), mgpuStreamCreate, mgpuLaunchKernel
// for each and one mgpuStreamSynchronize where the host next touches
// memory. Here they are the CUDA driver API on this rank's device: one
// primary context and one stream per thread. Tensors are managed memory,
// which the host code, MPI and NCCL address alike, kept within the device's
// memory; the kernels' temporaries come from a per-thread pool ordered by
// that stream.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Device.h"
#include "tetra/runtime/TemporaryPool.h"

#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

CUdevice device = 0;
CUcontext context = nullptr;

[[noreturn]] void fail(const char *call, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  cuGetErrorName(result, &name);
  cuGetErrorString(result, &text);
  std::fprintf(stderr, "tetra-run: CUDA: %s failed: %s (%s)\n", call, name ? name : "?",
               text ? text : "no description");
  std::exit(1);
}

void check(CUresult result, const char *call) {
  if (result != CUDA_SUCCESS)
    fail(call, result);
}

/// Every thread that calls the driver uses the rank's primary context.
void bindContext() {
  CUcontext currentContext = nullptr;
  cuCtxGetCurrent(&currentContext);
  if (currentContext != context)
    check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

CUstream threadStream() {
  thread_local CUstream stream = nullptr;
  if (!stream) {
    bindContext();
    check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  return stream;
}

/// Managed memory within what the device can hold. The driver lets managed
/// allocations exceed the device's memory (pages then migrate to and from
/// the host, and a GPU so oversubscribed can stall), so the backend counts
/// its live allocations against the memory free when it started, less a
/// reserve for what cuBLAS, NCCL and the modules take, and refuses beyond.
class ManagedMemory {
public:
  void start() {
    size_t free = 0, total = 0;
    check(cuMemGetInfo(&free, &total), "cuMemGetInfo");
    size_t reserve = std::max<size_t>(size_t(1) << 30, total / 20);
    budget_ = free > reserve ? free - reserve : 0;
  }
  /// CUDA_ERROR_OUT_OF_MEMORY past the budget, as the driver's own.
  CUresult allocate(CUdeviceptr *pointer, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (live_ + bytes > budget_)
      return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult result = cuMemAllocManaged(pointer, bytes ? bytes : 1, CU_MEM_ATTACH_GLOBAL);
    if (result == CUDA_SUCCESS) {
      live_ += bytes;
      sizes_[*pointer] = bytes;
    }
    return result;
  }
  void release(CUdeviceptr pointer) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = sizes_.find(pointer);
      if (it != sizes_.end()) {
        live_ -= it->second;
        sizes_.erase(it);
      }
    }
    check(cuMemFree(pointer), "cuMemFree");
  }
  /// Fails naming the allocation and the budget.
  [[noreturn]] void refuse(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fprintf(stderr,
                 "tetra-run: CUDA: %.1f MiB of managed memory asked for with %.1f MiB live, "
                 "past the %.1f MiB this device had free at start less its reserve\n",
                 bytes / 1048576.0, live_ / 1048576.0, budget_ / 1048576.0);
    std::exit(1);
  }

private:
  std::mutex mutex_;
  size_t budget_ = 0, live_ = 0;
  std::unordered_map<CUdeviceptr, size_t> sizes_;
};

ManagedMemory &managed() {
  static ManagedMemory *memory = new ManagedMemory(); // outlives exit's destructors
  return *memory;
}

void *allocate(size_t bytes) {
  bindContext();
  CUdeviceptr pointer = 0;
  CUresult result = managed().allocate(&pointer, bytes);
  if (result == CUDA_ERROR_OUT_OF_MEMORY)
    managed().refuse(bytes);
  check(result, "cuMemAllocManaged");
  check(cuMemsetD8(pointer, 0, bytes ? bytes : 1), "cuMemsetD8");
  check(cuCtxSynchronize(), "cuCtxSynchronize");
  return reinterpret_cast<void *>(pointer);
}

void release(void *pointer) {
  if (!pointer)
    return;
  bindContext();
  // Work still using it finishes first.
  check(cuCtxSynchronize(), "cuCtxSynchronize");
  managed().release(reinterpret_cast<CUdeviceptr>(pointer));
}

void synchronize() {
  bindContext();
  check(cuCtxSynchronize(), "cuCtxSynchronize");
}

/// The compiled code's temporaries come from the thread's pool
/// (TemporaryPool.h): cuMemFree would synchronise the context.
void *allocateTemporary(size_t bytes) {
  tetra::rt::TemporaryPool &pool = tetra::rt::TemporaryPool::ofThisThread();
  if (void *block = pool.take(bytes))
    return block;
  bindContext();
  CUdeviceptr pointer = 0;
  CUresult result = managed().allocate(&pointer, bytes);
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    // Blocks of other sizes wait in the pool: once the stream is done with
    // them, they go back to the driver, and the allocation is tried again.
    check(cuStreamSynchronize(threadStream()), "cuStreamSynchronize");
    pool.drain([](void *block) { managed().release(reinterpret_cast<CUdeviceptr>(block)); });
    result = managed().allocate(&pointer, bytes);
    if (result == CUDA_ERROR_OUT_OF_MEMORY)
      managed().refuse(bytes);
  }
  check(result, "cuMemAllocManaged");
  return reinterpret_cast<void *>(pointer);
}

void releaseTemporary(void *pointer, size_t bytes) {
  tetra::rt::TemporaryPool::ofThisThread().give(pointer, bytes);
}

const tetra::rt::DeviceBackend backend{"cuda",          allocate,        release, synchronize,
                                       allocateTemporary, releaseTemporary};


} // namespace

extern "C" {

const tetra::rt::DeviceBackend *tetra_device_backend(char *error, size_t errorSize) {
  auto refuse = [&](const char *call, CUresult result) -> const tetra::rt::DeviceBackend * {
    const char *text = nullptr;
    cuGetErrorString(result, &text);
    std::snprintf(error, errorSize, "CUDA: %s failed: %s", call, text ? text : "unknown error");
    return nullptr;
  };
  if (CUresult r = cuInit(0); r != CUDA_SUCCESS)
    return refuse("cuInit", r);
  int count = 0;
  if (CUresult r = cuDeviceGetCount(&count); r != CUDA_SUCCESS)
    return refuse("cuDeviceGetCount", r);
  if (count == 0) {
    std::snprintf(error, errorSize, "CUDA: no device");
    return nullptr;
  }
  if (CUresult r = cuDeviceGet(&device, tetra::rt::launcherLocalRank() % count); r != CUDA_SUCCESS)
    return refuse("cuDeviceGet", r);
  // The host code and the kernels take turns on managed memory; without
  // concurrent managed access the host may not touch it while any kernel runs.
  int concurrent = 0;
  cuDeviceGetAttribute(&concurrent, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, device);
  if (!concurrent) {
    std::snprintf(error, errorSize,
                  "CUDA: the device lacks concurrent managed memory access, which Tetra's "
                  "tensors need");
    return nullptr;
  }
  if (CUresult r = cuDevicePrimaryCtxRetain(&context, device); r != CUDA_SUCCESS)
    return refuse("cuDevicePrimaryCtxRetain", r);
  if (CUresult r = cuCtxSetCurrent(context); r != CUDA_SUCCESS)
    return refuse("cuCtxSetCurrent", r);
  managed().start();
  return &backend;
}

// The entry points MLIR's gpu-to-llvm lowering calls.

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  bindContext();
  CUmodule module = nullptr;
  check(cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

void mgpuModuleUnload(void *module) {
  // At exit the context may be gone already; nothing is left to free then.
  CUcontext currentContext = nullptr;
  if (cuCtxGetCurrent(&currentContext) == CUDA_SUCCESS && currentContext)
    cuModuleUnload(static_cast<CUmodule>(module));
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  bindContext();
  CUfunction function = nullptr;
  CUresult r = cuModuleGetFunction(&function, static_cast<CUmodule>(module), name);
  if (r != CUDA_SUCCESS) {
    std::fprintf(stderr, "tetra-run: CUDA: kernel %s: ", name);
    fail("cuModuleGetFunction", r);
  }
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                      intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t sharedBytes,
                      void *stream, void **params, void **extra, size_t /*paramsCount*/) {
  bindContext();
  // Above 48 KiB a kernel's dynamic shared memory needs its opt-in.
  if (sharedBytes > 48 * 1024)
    check(cuFuncSetAttribute(static_cast<CUfunction>(function),
                             CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes),
          "cuFuncSetAttribute");
  check(cuLaunchKernel(static_cast<CUfunction>(function), gridX, gridY, gridZ, blockX, blockY,
                       blockZ, sharedBytes, static_cast<CUstream>(stream), params, extra),
        "cuLaunchKernel");
}

void *mgpuStreamCreate() { return threadStream(); }

// The thread's stream lives as long as the thread.
void mgpuStreamDestroy(void *) {}

void mgpuStreamSynchronize(void *stream) {
  bindContext();
  check(cuStreamSynchronize(static_cast<CUstream>(stream)), "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  check(cuStreamWaitEvent(static_cast<CUstream>(stream), static_cast<CUevent>(event), 0),
        "cuStreamWaitEvent");
}

void *mgpuEventCreate() {
  bindContext();
  CUevent event = nullptr;
  check(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  return event;
}

void mgpuEventDestroy(void *event) { cuEventDestroy(static_cast<CUevent>(event)); }

void mgpuEventSynchronize(void *event) {
  check(cuEventSynchronize(static_cast<CUevent>(event)), "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  check(cuEventRecord(static_cast<CUevent>(event), static_cast<CUstream>(stream)),
        "cuEventRecord");
}

void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/, bool /*hostShared*/) {
  return allocate(bytes);
}

void mgpuMemFree(void *pointer, void * /*stream*/) { release(pointer); }

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  bindContext();
  check(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst), reinterpret_cast<CUdeviceptr>(src),
                      bytes, static_cast<CUstream>(stream)),
        "cuMemcpyAsync");
}

} // extern "C"
