//===- Communicator.cpp - collectives over grid axes, on MPI ---------------===//
#include "tetra/runtime/Communicator.h"
#include "tetra/runtime/Error.h"

#include <climits>

namespace tetra::rt {

namespace {
int maskOf(const std::vector<Axis> &axes) {
  int mask = 0;
  for (Axis a : axes)
    mask |= 1 << static_cast<int>(a);
  return mask;
}

int checkedCount(int64_t count) {
  if (count < 0 || count > INT_MAX)
    throw Error("collective of " + std::to_string(count) +
                " elements exceeds MPI's int count");
  return static_cast<int>(count);
}

void check(int rc, const char *what) {
  if (rc != MPI_SUCCESS)
    throw Error(std::string("MPI ") + what + " failed (error " + std::to_string(rc) + ")");
}
} // namespace

GridCommunicator::GridCommunicator(MPI_Comm world, GridShape shape)
    : shape_(shape), world_(world) {
  int size = 0, rank = 0;
  MPI_Comm_size(world, &size);
  MPI_Comm_rank(world, &rank);
  if (size != shape.ranks())
    throw Error("grid " + shape.str() + " needs " + std::to_string(shape.ranks()) +
                " ranks, but " + std::to_string(size) + " were started");
  rank_ = rank;
  // Every group's communicator now, while all ranks are here: splitting is
  // collective over the world, and later only some ranks may need a group
  // (e.g. the writers of a checkpoint).
  for (int mask = 1; mask < 16; ++mask)
    group(axesOfMask(mask));
}

GridCommunicator::~GridCommunicator() {
  for (auto &[mask, comm] : groups_)
    MPI_Comm_free(&comm);
}

MPI_Comm GridCommunicator::group(const std::vector<Axis> &axes) {
  int mask = maskOf(axes);
  auto it = groups_.find(mask);
  if (it != groups_.end())
    return it->second;
  // Colour: the coordinates outside the group; key: the position in it.
  std::vector<int64_t> members = groupOf(shape_, rank_, axesOfMask(mask));
  int64_t color = members.front(); // the group's first rank names it
  int key = 0;
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i] == rank_)
      key = static_cast<int>(i);
  MPI_Comm comm;
  check(MPI_Comm_split(world_, static_cast<int>(color), key, &comm), "Comm_split");
  groups_[mask] = comm;
  return comm;
}

void GridCommunicator::barrier() { check(MPI_Barrier(world_), "Barrier"); }

void GridCommunicator::allReduceSum(float *data, int64_t count, const std::vector<Axis> &axes) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, checkedCount(count), MPI_FLOAT, MPI_SUM, group(axes)),
        "Allreduce");
}

void GridCommunicator::allReduceSum(double *data, int64_t count,
                                    const std::vector<Axis> &axes) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, checkedCount(count), MPI_DOUBLE, MPI_SUM,
                      group(axes)),
        "Allreduce");
}

void GridCommunicator::allReduceMax(float *data, int64_t count, const std::vector<Axis> &axes) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, checkedCount(count), MPI_FLOAT, MPI_MAX, group(axes)),
        "Allreduce");
}

void GridCommunicator::allGather(const float *in, int64_t count, float *out,
                                 const std::vector<Axis> &axes) {
  check(MPI_Allgather(in, checkedCount(count), MPI_FLOAT, out, checkedCount(count), MPI_FLOAT,
                      group(axes)),
        "Allgather");
}

void GridCommunicator::allGather(const uint16_t *in, int64_t count, uint16_t *out,
                                 const std::vector<Axis> &axes) {
  check(MPI_Allgather(in, checkedCount(count), MPI_UINT16_T, out, checkedCount(count),
                      MPI_UINT16_T, group(axes)),
        "Allgather");
}

void GridCommunicator::reduceScatterSum(const float *in, float *out, int64_t count,
                                        const std::vector<Axis> &axes) {
  check(MPI_Reduce_scatter_block(in, out, checkedCount(count), MPI_FLOAT, MPI_SUM, group(axes)),
        "Reduce_scatter_block");
}

} // namespace tetra::rt
