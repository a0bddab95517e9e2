//===- NcclCollectives.h - grid collectives on NCCL (or RCCL) -------------===//
#ifndef TETRA_RUNTIME_NCCLCOLLECTIVES_H
#define TETRA_RUNTIME_NCCLCOLLECTIVES_H

#include "tetra/runtime/Collectives.h"

#include <functional>
#include <mpi.h>

namespace tetra::rt {

/// The MPI communicator of this rank's group over some axes
/// (GridCommunicator::group).
using MpiGroupOf = std::function<MPI_Comm(const std::vector<Axis> &)>;

/// The factory the CUDA backend library exports: NCCL communicators for the
/// groups of `mpi`'s grid (their unique ids broadcast over each group's MPI
/// communicator), collectives on the device's memory. Throws Error when
/// NCCL cannot start.
using NcclCollectivesFactory = Collectives *(*)(Collectives *mpi, MpiGroupOf groupOf);
constexpr const char *kNcclCollectivesSymbol = "tetra_make_nccl_collectives";

} // namespace tetra::rt

#endif // TETRA_RUNTIME_NCCLCOLLECTIVES_H
