//===- ModelStats.h - size and cost of a model in tetra IR ----------------===//
#ifndef TETRA_ANALYSIS_MODELSTATS_H
#define TETRA_ANALYSIS_MODELSTATS_H

#include "mlir/IR/BuiltinOps.h"
#include <cstdint>
#include <optional>

namespace mlir::tetra {

struct ModelStats {
  /// Elements of all parameters.
  int64_t parameters = 0;
  int64_t parameterTensors = 0;
  /// Transformer blocks, when the module records them.
  std::optional<int64_t> layers;
  /// Context length recorded by the importer, when present.
  std::optional<int64_t> context;
  /// Sequence length the FLOP count was taken at.
  int64_t seqLen = 0;
  /// Matrix FLOPs per token of one forward pass (see the pass's description).
  double forwardFlopsPerToken = 0;
};

/// Computes the statistics of `module` (its parameters and its `@forward`
/// function). `seqLen` 0 means the context length recorded in `tetra.model`.
/// Emits an error on `module` and fails when the FLOPs cannot be counted.
FailureOr<ModelStats> computeModelStats(ModuleOp module, int64_t seqLen = 0);

} // namespace mlir::tetra

#endif // TETRA_ANALYSIS_MODELSTATS_H
