//===- Pipeline.h - the passes from a model to its training program -------===//
//
// The front of tetra-compile's pipeline (loss, sharding, autodiff, overlap)
// as one pass-pipeline string, shared by tetra-compile and the cost model so
// that the schedules the cost model simulates are the ones that are built.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_TRANSFORMS_PIPELINE_H
#define TETRA_TRANSFORMS_PIPELINE_H

#include "llvm/Support/Error.h"
#include <cstdint>
#include <string>

namespace mlir::tetra {

struct TrainingPipelineOptions {
  std::string grid = "1x1x1x1";
  /// "all", "none", or a comma list of oag, ors, oar, forward, dp.
  std::string overlap = "all";
  int64_t prefetch = 1;
  /// The body of #tetra.goldfish<...>, or empty.
  std::string goldfish;
  /// tetra-autodiff's options ("beta1=0.9 ...").
  std::string optimizer;
  /// A step is one micro-batch: the data-parallel gradient all-reduce may
  /// move into @grad (overlap `dp`).
  bool oneMicroBatch = true;
};

struct TrainingPipeline {
  /// All of it: `front` (loss, sharding, autodiff) then `overlap` (may be
  /// empty), which is the only part that depends on the overlap settings.
  std::string passes, front, overlap;
  /// @grad sums the gradients over data (and z) itself: the plan must not.
  bool gradientsReducedInGrad = false;
};

/// The pipeline, or an error naming a bad --overlap entry.
llvm::Expected<TrainingPipeline> trainingPipeline(const TrainingPipelineOptions &options);

/// "hash:k=4:h=13" (tetra-compile's --goldfish) as the attribute body
/// "hash, k = 4, h = 13"; an error for a key without a value.
llvm::Expected<std::string> goldfishAttributeBody(const std::string &flag);

} // namespace mlir::tetra

#endif // TETRA_TRANSFORMS_PIPELINE_H
