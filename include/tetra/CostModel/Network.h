//===- Network.h - where grid axes land and what collectives cost ---------===//
//
// Ranks are numbered x fastest, then y, z, data (ALGORITHMS.md §1), and fill
// the nodes in that order: the axes placed first stay inside a node. A group
// over some axes is inside a node when its ranks all are; its bus bandwidth
// then comes from the machine's intra-node table (by group size and span),
// otherwise from the NICs, shared by the groups whose rings cross them.
// Collective times are alpha-beta: ring, or tree for all-reduces when that is
// faster (small messages over many ranks).
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_NETWORK_H
#define TETRA_COSTMODEL_NETWORK_H

#include "tetra/CostModel/Machine.h"

#include <array>
#include <cstdint>
#include <string>

namespace mlir::tetra::cost {

/// Grid sizes in rank order: x, y, z, data.
struct Grid {
  std::array<int64_t, 4> sizes{1, 1, 1, 1};
  int64_t x() const { return sizes[0]; }
  int64_t y() const { return sizes[1]; }
  int64_t z() const { return sizes[2]; }
  int64_t data() const { return sizes[3]; }
  int64_t devices() const { return sizes[0] * sizes[1] * sizes[2] * sizes[3]; }
  std::string str() const; // "XxYxZxD"
};

/// A set of grid axes as a bit mask (bit 0 x ... bit 3 data), as the runtime
/// spells it.
using AxisMask = unsigned;

/// "x", "z*data": the runtime's name of a group's trace lane.
std::string axesName(AxisMask axes);

/// Where the group of `axes` lands.
struct GroupPlacement {
  int64_t size = 1;  // ranks in the group
  int64_t span = 1;  // stride between neighbours: the sizes of the axes before
  bool insideNode = true;
  /// Bus bandwidth one member reaches (bytes/s) and the latency of one step.
  double bandwidth = 0, latency = 0;
};

GroupPlacement placeGroup(const Machine &m, const Grid &grid, AxisMask axes);

enum class CollectiveKind { AllReduce, AllGather, ReduceScatter };
const char *collectiveName(CollectiveKind kind);

/// Seconds of one collective over `axes`. `bytes` is the full buffer of one
/// rank: the all-reduced tensor, the gathered result, the scattered input.
/// `algorithm` receives "ring" or "tree".
double collectiveSeconds(const Machine &m, const Grid &grid, CollectiveKind kind,
                         AxisMask axes, double bytes, const char **algorithm = nullptr);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_NETWORK_H
