//===- Communicator.h - collectives over grid axes, on MPI -----------------===//
#ifndef TETRA_RUNTIME_COMMUNICATOR_H
#define TETRA_RUNTIME_COMMUNICATOR_H

#include "tetra/runtime/Collectives.h"

#include <map>
#include <mpi.h>
#include <vector>

namespace tetra::rt {

/// One MPI communicator per group of grid axes, split from `world` in the
/// grid's rank order; collectives over named axes.
class GridCommunicator : public Collectives {
public:
  /// Throws Error when `world` does not have shape.ranks() ranks.
  GridCommunicator(MPI_Comm world, GridShape shape);
  ~GridCommunicator();
  GridCommunicator(const GridCommunicator &) = delete;
  GridCommunicator &operator=(const GridCommunicator &) = delete;

  const GridShape &shape() const override { return shape_; }
  int64_t rank() const override { return rank_; }

  /// The communicator of this rank's group over `axes` (ranks in group order:
  /// the axes in rank order, x fastest, whatever order they are listed in).
  /// Created on first use, then kept.
  MPI_Comm group(const std::vector<Axis> &axes);

  void barrier() override;
  void allReduceSum(float *data, int64_t count, const std::vector<Axis> &axes) override;
  void allReduceSum(double *data, int64_t count, const std::vector<Axis> &axes) override;
  void allReduceMax(float *data, int64_t count, const std::vector<Axis> &axes) override;
  void allGather(const float *in, int64_t count, float *out,
                 const std::vector<Axis> &axes) override;
  void allGather(const uint16_t *in, int64_t count, uint16_t *out,
                 const std::vector<Axis> &axes) override;
  void reduceScatterSum(const float *in, float *out, int64_t count,
                        const std::vector<Axis> &axes) override;

private:
  GridShape shape_;
  MPI_Comm world_;
  int64_t rank_ = 0;
  std::map<int, MPI_Comm> groups_; // by axis bitmask
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_COMMUNICATOR_H
