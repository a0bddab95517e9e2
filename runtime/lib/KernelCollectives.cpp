//===- KernelCollectives.cpp - the collectives compiled kernels call -------===//
//
// tetra-partition's collectives bufferize into calls of these functions with
// MLIR's C interface: unranked memref descriptors (rank, pointer to the
// ranked descriptor: allocated, aligned, offset, sizes[rank], strides[rank]).
// The buffers are contiguous (the lowering copies strided views first).
//
// Every collective runs on the communication thread (CommunicationThread.h):
// the asynchronous ones (tetra_rt_*_start, tetra-overlap's) return a handle
// for tetra_rt_wait, the synchronous ones wait at once. A start takes its
// input immediately (copied into memory of the device backend, which NCCL
// can address where the kernels run on a GPU), so the kernel may reuse the
// input buffer; the output buffer belongs to the collective until the wait.
// All-gathers also move the weights' bf16 copies (the *_bf16 functions).
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Collectives.h"
#include "tetra/runtime/CommunicationThread.h"
#include "tetra/runtime/Device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace tetra::rt {
namespace {
Collectives *active = nullptr;
std::unique_ptr<CommunicationThread> thread;

Collectives &collectives(const char *what) {
  if (!active) {
    std::fprintf(stderr, "tetra-run: error: the kernels call %s but this run has no grid "
                         "(an artifact compiled with --grid needs mpirun)\n", what);
    std::abort();
  }
  return *active;
}

struct Unranked {
  int64_t rank;
  void *descriptor;
};

/// A contiguous buffer: `count` elements of `elementBytes` each (4: f32;
/// 2: the weights' bf16 copies, which only all-gathers move).
struct View {
  void *data;
  int64_t count;
  size_t elementBytes;
  size_t bytes() const { return static_cast<size_t>(count) * elementBytes; }
};

/// Buffers of the device backend's memory for collectives' inputs, kept
/// for reuse by size: a backend's allocation and release may wait for the
/// whole device, which a step's collectives should not, and a step asks
/// for the same sizes every time.
class StagingPool {
public:
  void *take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::vector<void *> &free = free_[bytes];
      if (!free.empty()) {
        void *buffer = free.back();
        free.pop_back();
        return buffer;
      }
    }
    return device().allocate(bytes);
  }
  /// Once the collective reading `buffer` has run.
  void give(void *buffer, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_[bytes].push_back(buffer);
  }

private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void *>> free_;
};

StagingPool &stagingPool() {
  // Never destroyed: at exit the device backend may already be gone.
  static StagingPool *pool = new StagingPool();
  return *pool;
}

/// A copy of a collective's input in the device backend's memory (which
/// NCCL can address where the kernels run on a GPU), given back to the
/// pool when the collective is done with it.
class StagedInput {
public:
  explicit StagedInput(View source)
      : data_(stagingPool().take(source.bytes())), count_(source.count), bytes_(source.bytes()) {
    std::memcpy(data_, source.data, bytes_);
  }
  ~StagedInput() { stagingPool().give(data_, bytes_); }
  StagedInput(const StagedInput &) = delete;
  StagedInput &operator=(const StagedInput &) = delete;

  template <typename T> const T *data() const { return static_cast<const T *>(data_); }
  int64_t count() const { return count_; }

private:
  void *data_;
  int64_t count_;
  size_t bytes_;
};

View viewOf(const Unranked *m, size_t elementBytes = sizeof(float)) {
  auto *d = static_cast<int64_t *>(m->descriptor);
  auto *aligned = reinterpret_cast<char *>(d[1]);
  int64_t count = 1;
  for (int64_t i = 0; i < m->rank; ++i)
    count *= d[3 + i];
  return {aligned + d[2] * elementBytes, count, elementBytes};
}

float *floats(const View &v) { return static_cast<float *>(v.data); }
} // namespace

std::vector<Axis> axesOfMask(int mask) {
  std::vector<Axis> axes;
  for (int a = 0; a < 4; ++a)
    if (mask & (1 << a))
      axes.push_back(static_cast<Axis>(a));
  return axes;
}

void setKernelCollectives(Collectives *c) {
  thread.reset();
  active = c;
  if (c)
    thread = std::make_unique<CommunicationThread>();
}

std::string axesName(const std::vector<Axis> &axes) {
  std::string name;
  for (Axis a : axes)
    name += (name.empty() ? "" : "*") + std::string(axisName(a));
  return name;
}

} // namespace tetra::rt

using namespace tetra::rt;

namespace {
std::string trackOf(int mask) { return axesName(axesOfMask(mask)); }

/// What tetra-calibrate needs of a collective: its buffer (the all-reduced
/// tensor, the gathered result, the scattered input) and its group's size.
Trace::Args sizeOf(Collectives &c, int32_t mask, const View &buffer) {
  double ranks = 1;
  for (Axis a : axesOfMask(mask))
    ranks *= static_cast<double>(c.shape().size(a));
  return {{"bytes", static_cast<double>(buffer.bytes())}, {"ranks", ranks}};
}

int64_t allReduceStart(Unranked *in, Unranked *out, int32_t mask, int32_t kind) {
  Collectives &c = collectives("tetra_rt_all_reduce");
  View src = viewOf(in), dst = viewOf(out);
  std::memcpy(dst.data, src.data, dst.bytes());
  return thread->start(trackOf(mask), kind == 1 ? "all_reduce max" : "all_reduce", [=, &c] {
    if (kind == 1)
      c.allReduceMax(floats(dst), dst.count, axesOfMask(mask));
    else
      c.allReduceSum(floats(dst), dst.count, axesOfMask(mask));
  }, sizeOf(c, mask, dst));
}

int64_t allGatherStart(Unranked *in, Unranked *out, int32_t mask, size_t elementBytes) {
  Collectives &c = collectives("tetra_rt_all_gather");
  View src = viewOf(in, elementBytes), dst = viewOf(out, elementBytes);
  auto input = std::make_shared<StagedInput>(src);
  return thread->start(trackOf(mask), "all_gather", [=, &c] {
    if (elementBytes == sizeof(uint16_t))
      c.allGather(input->data<uint16_t>(), input->count(), static_cast<uint16_t *>(dst.data),
                  axesOfMask(mask));
    else
      c.allGather(input->data<float>(), input->count(), floats(dst), axesOfMask(mask));
  }, sizeOf(c, mask, dst));
}

int64_t reduceScatterStart(Unranked *in, Unranked *out, int32_t mask) {
  Collectives &c = collectives("tetra_rt_reduce_scatter");
  View src = viewOf(in), dst = viewOf(out);
  auto input = std::make_shared<StagedInput>(src);
  return thread->start(trackOf(mask), "reduce_scatter", [=, &c] {
    c.reduceScatterSum(input->data<float>(), floats(dst), dst.count, axesOfMask(mask));
  }, sizeOf(c, mask, src));
}
} // namespace

extern "C" {

int64_t tetra_rt_coordinate(int32_t axis) {
  return collectives("tetra_rt_coordinate").coord().of(static_cast<Axis>(axis));
}

void _mlir_ciface_tetra_rt_all_reduce(Unranked *in, Unranked *out, int32_t mask,
                                      int32_t kind) {
  thread->wait(allReduceStart(in, out, mask, kind));
}

void _mlir_ciface_tetra_rt_all_gather(Unranked *in, Unranked *out, int32_t mask) {
  thread->wait(allGatherStart(in, out, mask, sizeof(float)));
}

void _mlir_ciface_tetra_rt_all_gather_bf16(Unranked *in, Unranked *out, int32_t mask) {
  thread->wait(allGatherStart(in, out, mask, sizeof(uint16_t)));
}

void _mlir_ciface_tetra_rt_reduce_scatter(Unranked *in, Unranked *out, int32_t mask) {
  thread->wait(reduceScatterStart(in, out, mask));
}

int64_t _mlir_ciface_tetra_rt_all_reduce_start(Unranked *in, Unranked *out, int32_t mask,
                                               int32_t kind) {
  return allReduceStart(in, out, mask, kind);
}

int64_t _mlir_ciface_tetra_rt_all_gather_start(Unranked *in, Unranked *out, int32_t mask) {
  return allGatherStart(in, out, mask, sizeof(float));
}

int64_t _mlir_ciface_tetra_rt_all_gather_bf16_start(Unranked *in, Unranked *out,
                                                    int32_t mask) {
  return allGatherStart(in, out, mask, sizeof(uint16_t));
}

int64_t _mlir_ciface_tetra_rt_reduce_scatter_start(Unranked *in, Unranked *out,
                                                   int32_t mask) {
  return reduceScatterStart(in, out, mask);
}

void tetra_rt_wait(int64_t handle) { thread->wait(handle); }

} // extern "C"
