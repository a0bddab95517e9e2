//===- Communicator.h - collectives over grid axes, on MPI -----------------===//
#ifndef TETRA_RUNTIME_COMMUNICATOR_H
#define TETRA_RUNTIME_COMMUNICATOR_H

#include "tetra/runtime/Grid.h"

#include <map>
#include <mpi.h>
#include <vector>

namespace tetra::rt {

/// One MPI communicator per group of grid axes, split from `world` in the
/// grid's rank order; collectives over named axes.
class GridCommunicator {
public:
  /// Throws Error when `world` does not have shape.ranks() ranks.
  GridCommunicator(MPI_Comm world, GridShape shape);
  ~GridCommunicator();
  GridCommunicator(const GridCommunicator &) = delete;
  GridCommunicator &operator=(const GridCommunicator &) = delete;

  const GridShape &shape() const { return shape_; }
  int64_t rank() const { return rank_; }
  GridCoord coord() const { return coordOf(shape_, rank_); }

  /// The communicator of this rank's group over `axes` (ranks in group order:
  /// the first listed axis fastest). Created on first use, then kept.
  MPI_Comm group(const std::vector<Axis> &axes);

  /// Sum over the group, in place.
  void allReduceSum(float *data, int64_t count, const std::vector<Axis> &axes);
  /// Every rank's `count` values, concatenated in group order into `out`.
  void allGather(const float *in, int64_t count, float *out, const std::vector<Axis> &axes);
  /// Sum over the group of `in` (count * group size values); this rank keeps
  /// its slice (count values, by group order) in `out`.
  void reduceScatterSum(const float *in, float *out, int64_t count,
                        const std::vector<Axis> &axes);

private:
  GridShape shape_;
  MPI_Comm world_;
  int64_t rank_ = 0;
  std::map<int, MPI_Comm> groups_; // by axis bitmask
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_COMMUNICATOR_H
