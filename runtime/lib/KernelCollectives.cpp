//===- KernelCollectives.cpp - the collectives compiled kernels call -------===//
//
// tetra-partition's collectives bufferize into calls of these functions with
// MLIR's C interface: unranked memref descriptors (rank, pointer to the
// ranked descriptor: allocated, aligned, offset, sizes[rank], strides[rank]).
// The buffers are contiguous (the lowering copies strided views first).
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Collectives.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tetra::rt {
namespace {
Collectives *active = nullptr;

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

struct View {
  float *data;
  int64_t count;
};

View viewOf(const Unranked *m) {
  auto *d = static_cast<int64_t *>(m->descriptor);
  auto *aligned = reinterpret_cast<float *>(d[1]);
  int64_t count = 1;
  for (int64_t i = 0; i < m->rank; ++i)
    count *= d[3 + i];
  return {aligned + d[2], count};
}
} // namespace

std::vector<Axis> axesOfMask(int mask) {
  std::vector<Axis> axes;
  for (int a = 0; a < 4; ++a)
    if (mask & (1 << a))
      axes.push_back(static_cast<Axis>(a));
  return axes;
}

void setKernelCollectives(Collectives *c) { active = c; }

} // namespace tetra::rt

using namespace tetra::rt;

extern "C" {

int64_t tetra_rt_coordinate(int32_t axis) {
  return collectives("tetra_rt_coordinate").coord().of(static_cast<Axis>(axis));
}

void _mlir_ciface_tetra_rt_all_reduce(Unranked *in, Unranked *out, int32_t mask,
                                      int32_t kind) {
  Collectives &c = collectives("tetra_rt_all_reduce");
  View src = viewOf(in), dst = viewOf(out);
  std::memcpy(dst.data, src.data, sizeof(float) * dst.count);
  if (kind == 1)
    c.allReduceMax(dst.data, dst.count, axesOfMask(mask));
  else
    c.allReduceSum(dst.data, dst.count, axesOfMask(mask));
}

void _mlir_ciface_tetra_rt_all_gather(Unranked *in, Unranked *out, int32_t mask) {
  View src = viewOf(in), dst = viewOf(out);
  collectives("tetra_rt_all_gather").allGather(src.data, src.count, dst.data, axesOfMask(mask));
}

void _mlir_ciface_tetra_rt_reduce_scatter(Unranked *in, Unranked *out, int32_t mask) {
  View src = viewOf(in), dst = viewOf(out);
  collectives("tetra_rt_reduce_scatter")
      .reduceScatterSum(src.data, dst.data, dst.count, axesOfMask(mask));
}

} // extern "C"
