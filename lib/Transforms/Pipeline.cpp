//===- Pipeline.cpp - the passes from a model to its training program -----===//
#include "tetra/Transforms/Pipeline.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

namespace mlir::tetra {

static llvm::Error failure(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<std::string> goldfishAttributeBody(const std::string &flag) {
  if (flag.empty())
    return std::string();
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(flag).split(parts, ':');
  std::string body = parts.front().str();
  for (llvm::StringRef part : llvm::ArrayRef<llvm::StringRef>(parts).drop_front()) {
    auto [key, value] = part.split('=');
    bool numeric = key == "k" || key == "h" || key == "start";
    if (value.empty() && numeric)
      return failure("--goldfish: '" + part + "' needs a value");
    body += numeric ? (", " + key + " = " + value).str() : (", table = \"" + part + "\"").str();
  }
  return body;
}

llvm::Expected<TrainingPipeline> trainingPipeline(const TrainingPipelineOptions &o) {
  TrainingPipeline result;
  bool grid = o.grid != "1x1x1x1";
  // One process: no sharding at all, so its kernels stay free of collectives.
  std::string partition =
      grid ? "tetra-shard{grid=" + o.grid + "},tetra-partition," : std::string();
  // --overlap all|none|oag,ors,oar,forward,dp -> tetra-overlap's switches.
  // The data-parallel gradient all-reduce moves into @grad only when a step
  // is one micro-batch (otherwise it sums the accumulated gradients once).
  std::string overlap;
  if (grid && o.overlap != "none") {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(o.overlap).split(parts, ',');
    bool all = o.overlap == "all";
    for (llvm::StringRef part : parts)
      if (!all && !llvm::is_contained({"oag", "ors", "oar", "forward", "dp"}, part))
        return failure("--overlap: unknown '" + part +
                       "' (all, none, or a list of oag, ors, oar, forward, dp)");
    auto on = [&](llvm::StringRef name) {
      return all || llvm::is_contained(parts, name) ? "true" : "false";
    };
    result.gradientsReducedInGrad = llvm::StringRef(on("dp")) == "true" && o.oneMicroBatch;
    overlap = (",tetra-overlap{oag=" + llvm::Twine(on("oag")) + " ors=" + on("ors") +
               " oar=" + on("oar") + " forward-all-reduce=" + on("forward") +
               " gradient-all-reduce=" + (result.gradientsReducedInGrad ? "true" : "false") +
               " prefetch=" + llvm::Twine(o.prefetch) + "}")
                  .str();
  }
  result.front = "tetra-add-loss{goldfish={" + o.goldfish + "}}," + partition +
                 "tetra-autodiff{" + o.optimizer + "},tetra-params-to-arguments";
  result.overlap = overlap.empty() ? "" : overlap.substr(1); // without its comma
  result.passes = result.front + overlap;
  return result;
}

} // namespace mlir::tetra
