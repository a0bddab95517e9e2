//===- ChooseConfiguration.cpp - tetra-compile's use of the cost model ----===//
//
// --grid auto: the cost model searches every 4D grid of --gpus devices (and
// both overlap settings) on the machine and the compile goes on with the
// winner. With a fixed grid, --report and friends predict that one.
//
//===----------------------------------------------------------------------===//
#include "tetra/Compile/Compile.h"
#include "tetra/CostModel/CostModel.h"
#include "tetra/CostModel/Report.h"
#include "tetra/Import/ModelBuilder.h"
#include "tetra/Import/ModelConfig.h"
#include "tetra/Transforms/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <map>

using namespace mlir;
using namespace mlir::tetra;

namespace {
LogicalResult writeJson(Location loc, StringRef path, const llvm::json::Value &value) {
  if (llvm::Error err = cost::writeJsonFile(path, value))
    return emitError(loc) << llvm::toString(std::move(err));
  return success();
}
} // namespace

FailureOr<std::pair<std::string, std::string>>
mlir::tetra::chooseConfiguration(const CompileOptions &options, const ModelConfig &config,
                           const cost::Machine &machine, MLIRContext &context, Location loc) {
  bool automatic = options.grid == "auto";
  cost::SearchOptions o;
  if (automatic) {
    if (options.gpus < 1)
      return emitError(loc) << "--grid auto needs --gpus N (the devices to use)";
    o.devices = options.gpus;
  } else {
    o.grid = cost::parseGrid(options.grid);
    if (!o.grid)
      return emitError(loc) << "--grid " << options.grid << " is not XxYxZxD (or auto)";
    o.devices = o.grid->devices();
    o.overlaps = {options.overlap};
  }
  o.globalBatch = options.globalBatch;
  o.microBatch = options.microBatch;
  o.seqLen = options.seqLen;
  o.prefetch = options.prefetch;
  o.optimizer = options.optimizer;
  llvm::Expected<std::string> goldfish = goldfishAttributeBody(options.goldfish);
  if (!goldfish)
    return emitError(loc) << llvm::toString(goldfish.takeError());
  o.goldfish = *goldfish;

  // Shallow copies of the model for the search (every block is the same
  // program); recurrent models only as they are.
  bool recurrent = config.recurrentDepth || config.abacus;
  ModelShape shape{options.microBatch, options.seqLen};
  std::map<int64_t, OwningOpRef<ModuleOp>> built; // by depth, copied for each use
  cost::ModelFactory factory = [&](int64_t layers) -> OwningOpRef<ModuleOp> {
    if (layers != 0 && recurrent)
      return nullptr;
    OwningOpRef<ModuleOp> &model = built[layers];
    if (!model) {
      ModelConfig c = config;
      if (layers != 0)
        c.layers = layers;
      model = buildModel(c, &context, loc, shape);
      if (!model)
        return nullptr;
    }
    return model->clone();
  };
  OwningOpRef<ModuleOp> full = factory(0);
  if (!full)
    return failure();
  FailureOr<cost::ModelInfo> info = cost::modelInfoOf(*full);
  if (failed(info))
    return failure();
  full = nullptr;
  built.erase(0); // the full depth is built again only for --predict-trace

  llvm::errs() << llvm::formatv("tetra-compile: predicting {0} on {1} ({2})...\n",
                                automatic ? "every 4D grid of " + std::to_string(o.devices) +
                                                " devices"
                                          : "grid " + options.grid,
                                machine.name, machine.device);
  auto begin = std::chrono::steady_clock::now();
  std::vector<cost::Prediction> ranked = cost::search(factory, *info, machine, o);
  cost::ReportContext ctx{&machine, config.family, *info, o,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
                              .count()};
  if (options.report)
    cost::printReport(llvm::outs(), ctx, ranked, static_cast<size_t>(options.reportTop));
  if (!options.reportJson.empty() &&
      failed(writeJson(loc, options.reportJson, cost::reportJson(ctx, ranked))))
    return failure();
  if (ranked.empty() || !ranked.front().rejected.empty())
    return emitError(loc) << (automatic ? "no 4D grid of " + std::to_string(o.devices) +
                                              " devices runs this model"
                                        : "grid " + options.grid + " cannot run this model")
                          << " on " << machine.name << ": "
                          << (ranked.empty() ? "nothing to try" : ranked.front().rejected);
  const cost::Prediction &winner = ranked.front();
  if (!options.predictTrace.empty()) {
    // The winner again at full depth, with its timeline.
    cost::Prediction traced =
        cost::predict(factory, *info, machine, o, winner.config, /*fullDepth=*/true);
    if (!traced.rejected.empty())
      return emitError(loc) << "predicting the timeline failed: " << traced.rejected;
    if (failed(writeJson(loc, options.predictTrace,
                         cost::timelineTrace(traced, "predicted " + traced.config.str()))))
      return failure();
  }
  if (automatic)
    llvm::errs() << llvm::formatv("tetra-compile: --grid auto chose {0} (predicted step {1:f4} "
                                  "s, MFU {2:f1}%)\n",
                                  winner.config.str(), winner.stepSeconds, 100 * winner.mfu);
  if (winner.config.recompute)
    emitWarning(loc) << "the chosen configuration needs activation recomputation, which the "
                        "runtime does not do yet";
  return std::make_pair(winner.config.grid.str(), winner.config.overlap);
}
