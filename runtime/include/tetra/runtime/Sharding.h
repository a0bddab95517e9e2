//===- Sharding.h - a parameter's shards on the grid ----------------------===//
//
// tetra-partition's layouts, as the runtime applies them: dimension d of a
// parameter is split over its axes (outermost first; padded up to a multiple
// of the group, for the vocabulary), and the rank's block may be flattened
// and split once more over `flat` axes (AxoNN's z). Checkpoints hold global
// tensors, so any grid can load what any other saved.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_SHARDING_H
#define TETRA_RUNTIME_SHARDING_H

#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Collectives.h"

#include <functional>

namespace tetra::rt {

/// Calls f(local, global) for every element of `coord`'s shard that is a real
/// element of the parameter (not padding): `local` indexes the shard,
/// `global` the row-major global tensor.
void forEachShardElement(const ParamSpec &spec, const GridShape &grid,
                         const GridCoord &coord,
                         const std::function<void(int64_t, int64_t)> &f);

/// The shard `coord` holds (padding as zeros).
Tensor shardOf(const ParamSpec &spec, const Tensor &global, const GridShape &grid,
               const GridCoord &coord);

/// The global tensor, assembled from every rank's shard; a collective over
/// the axes that split the parameter (every rank gets it).
Tensor gatherGlobal(const ParamSpec &spec, const Tensor &local, Collectives &comm);

/// One tensor of a checkpoint as this rank holds it: a shard of a parameter
/// laid out by `spec` (its moments too), or, with no spec, a whole tensor
/// every rank has.
struct CheckpointTensor {
  std::string name;
  const ParamSpec *spec = nullptr;
  const Tensor *local = nullptr;
};

/// Writes one safetensors file (global tensors, loadable on any grid) from
/// every rank's shards; collective. Each tensor is gathered over the ranks
/// that split it and written at its offset by one of them, so the writing is
/// spread over the grid; the file is built under a temporary name that rank
/// 0 renames over `path` once every rank has written and synced its part.
void writeShardedCheckpoint(const std::string &path,
                            const std::vector<CheckpointTensor> &tensors,
                            const std::map<std::string, std::string> &metadata,
                            Collectives &comm);

/// The axes splitting the parameter (its dimensions' and the flat ones).
std::vector<Axis> splitAxes(const ParamSpec &spec);

/// Ranks along x, y and z holding the same shard (a global norm counts it once).
int64_t tensorReplicas(const ParamSpec &spec, const GridShape &grid);

/// The axes a gradient is summed over after the backward pass: data, and z
/// when the parameter is not split over z (its rows differ there).
std::vector<Axis> gradientReduceAxes(const ParamSpec &spec, const GridShape &grid);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_SHARDING_H
