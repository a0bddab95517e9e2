//===- Collectives.h - collectives over grid axes, as the runtime uses them -===//
//
// The trainer and the kernels' collectives (tetra_rt_all_reduce, ...) talk
// to the grid through this interface; GridCommunicator implements it on MPI,
// so the core runtime does not depend on MPI.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_COLLECTIVES_H
#define TETRA_RUNTIME_COLLECTIVES_H

#include "tetra/runtime/Grid.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tetra::rt {

class Collectives {
public:
  virtual ~Collectives() = default;
  virtual const GridShape &shape() const = 0;
  virtual int64_t rank() const = 0;
  GridCoord coord() const { return coordOf(shape(), rank()); }

  /// Waits until every rank of the grid gets here.
  virtual void barrier() = 0;
  /// Sum (or max) over the group, in place.
  virtual void allReduceSum(float *data, int64_t count, const std::vector<Axis> &axes) = 0;
  virtual void allReduceSum(double *data, int64_t count, const std::vector<Axis> &axes) = 0;
  virtual void allReduceMax(float *data, int64_t count, const std::vector<Axis> &axes) = 0;
  /// Every rank's `count` values, concatenated in group order into `out`.
  virtual void allGather(const float *in, int64_t count, float *out,
                         const std::vector<Axis> &axes) = 0;
  /// The same on 16-bit values (the weights' bf16 copies), bit for bit.
  virtual void allGather(const uint16_t *in, int64_t count, uint16_t *out,
                         const std::vector<Axis> &axes) = 0;
  /// Sum over the group of `in` (count * group size values); this rank keeps
  /// its slice (count values, by group order) in `out`.
  virtual void reduceScatterSum(const float *in, float *out, int64_t count,
                                const std::vector<Axis> &axes) = 0;
};

/// The axes of a bitmask (bit i: axis i), in rank order (x first): the
/// group order every collective uses.
std::vector<Axis> axesOfMask(int mask);

/// A group's name: its axes joined by '*' ("z*data"), as trace lanes show it.
std::string axesName(const std::vector<Axis> &axes);

/// The collectives the compiled kernels call (null: a single process,
/// whose kernels have none).
void setKernelCollectives(Collectives *collectives);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_COLLECTIVES_H
