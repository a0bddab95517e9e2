//===- ReferenceModel.h - AxoNN's communication-only performance model ----===//
//
// ALGORITHMS.md §1, exactly: per transformer block four linear layers (QKV
// K=3 normal, attention-out K=1 transposed, MLP-up K=4 normal, MLP-down K=4
// transposed), bytes per grid axis by the published formulas, time = the sum
// of bytes / bandwidth of each axis's group, the bandwidth read from the
// machine's `reference_bus_gbps` table by span and group size. No latency,
// no compute, no memory check, no overlap: the baseline Tetra's model
// improves on.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_REFERENCEMODEL_H
#define TETRA_COSTMODEL_REFERENCEMODEL_H

#include "tetra/CostModel/Machine.h"
#include "tetra/CostModel/Network.h"

#include <array>
#include <vector>

namespace mlir::tetra::cost {

struct ReferenceShape {
  int64_t layers = 0, hidden = 0;
  int64_t batch = 0, seqLen = 0; // global batch in samples
};

struct ReferenceCost {
  Grid grid;
  std::array<double, 4> bytes{};   // per axis x, y, z, data, whole model
  std::array<double, 4> seconds{}; // per axis
  double total = 0;
};

/// The model's communication time on `grid`; an error when the machine has no
/// reference table or a group size has no row in it.
llvm::Expected<ReferenceCost> referenceCost(const Machine &m, const ReferenceShape &shape,
                                            const Grid &grid);

/// Every power-of-two grid of `gpus` with x*y*z >= `minTensorParallel` and
/// the batch divisible by data*z, fastest first.
llvm::Expected<std::vector<ReferenceCost>>
referenceSearch(const Machine &m, const ReferenceShape &shape, int64_t gpus,
                int64_t minTensorParallel);

/// All power-of-two grids (x, y, z, data) whose product is `gpus` (a power of
/// two), in a fixed order.
std::vector<Grid> powerOfTwoGrids(int64_t gpus);

/// Every grid (x, y, z, data) whose product is `devices`: the cost model's
/// search space (6,144 GPUs has grids with a factor of 3).
std::vector<Grid> allGrids(int64_t devices);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_REFERENCEMODEL_H
