//===- CostModelPass.cpp - tetra-cost-model -------------------------------===//
#include "tetra/CostModel/CostModel.h"
#include "tetra/CostModel/Passes.h"
#include "tetra/CostModel/ReferenceModel.h"
#include "tetra/CostModel/Report.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace mlir::tetra {
#define GEN_PASS_DEF_COSTMODEL
#include "tetra/CostModel/Passes.h.inc"

namespace {

/// The static [batch, seq] of @forward's token ids.
FailureOr<std::pair<int64_t, int64_t>> tokenShape(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() == 0)
    return module.emitError("tetra-cost-model needs a model with @forward");
  auto ids = llvm::dyn_cast<RankedTensorType>(forward.getArgumentTypes()[0]);
  if (!ids || ids.getRank() != 2 || !ids.hasStaticShape())
    return module.emitError("tetra-cost-model needs static token shapes: import with "
                            "tetra-translate --import-batch B --import-seq-len S");
  return std::make_pair(ids.getDimSize(0), ids.getDimSize(1));
}

LogicalResult writeJson(ModuleOp module, StringRef path, const llvm::json::Value &value) {
  if (llvm::Error err = cost::writeJsonFile(path, value))
    return module.emitError() << llvm::toString(std::move(err));
  return success();
}

struct CostModelPass : impl::CostModelBase<CostModelPass> {
  using CostModelBase::CostModelBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    llvm::Expected<cost::Machine> m = cost::loadMachine(machine);
    if (!m)
      return module.emitError() << llvm::toString(m.takeError());
    if (gpus < 1 || (mode == "reference" && (gpus & (gpus - 1)) != 0))
      return module.emitError() << "tetra-cost-model: gpus=" << static_cast<int64_t>(gpus)
                                << (mode == "reference" ? " must be a power of two (the "
                                                          "reference model's grids)"
                                                        : " must be positive");
    FailureOr<std::pair<int64_t, int64_t>> shape = tokenShape(module);
    if (failed(shape))
      return failure();
    auto [microBatch, moduleSeq] = *shape;
    if (seqLen && seqLen != moduleSeq)
      return module.emitError() << "tetra-cost-model: seq-len=" << static_cast<int64_t>(seqLen)
                                << " but the module's sequence is " << moduleSeq;
    FailureOr<cost::ModelInfo> info = cost::modelInfoOf(module);
    if (failed(info))
      return failure();
    cost::SearchOptions o;
    o.devices = gpus;
    o.microBatch = microBatch;
    o.globalBatch = globalBatch ? globalBatch : microBatch;
    o.seqLen = moduleSeq;
    if (o.globalBatch % o.microBatch != 0)
      return module.emitError() << "tetra-cost-model: global-batch=" << o.globalBatch
                                << " is not a multiple of the module's micro-batch "
                                << o.microBatch;
    if (!grid.empty()) {
      o.grid = cost::parseGrid(grid);
      if (!o.grid || o.grid->devices() != gpus)
        return module.emitError() << "tetra-cost-model: grid=" << grid
                                  << " must be XxYxZxD with X*Y*Z*D = gpus = " << gpus;
    }
    OpBuilder b(module.getContext());
    if (mode == "reference")
      return runReference(module, *m, *info, o, b);
    if (mode != "full")
      return module.emitError() << "tetra-cost-model: mode must be full or reference, not '"
                                << mode << "'";
    o.overlaps.clear();
    for (StringRef s : llvm::split(StringRef(overlaps), ';'))
      if (!s.trim().empty())
        o.overlaps.push_back(s.trim().str());

    // Each configuration is built from a copy of the model as it came.
    OwningOpRef<ModuleOp> pristine = module.clone();
    cost::ModelFactory factory = [&](int64_t layers) -> OwningOpRef<ModuleOp> {
      if (layers != 0)
        return nullptr;
      return pristine->clone();
    };
    auto begin = std::chrono::steady_clock::now();
    std::vector<cost::Prediction> ranked = cost::search(factory, *info, *m, o);
    cost::ReportContext ctx{&*m, "model", *info, o,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                          begin)
                                .count()};
    if (auto model = module->getAttrOfType<ModelAttr>(kModelAttrName))
      ctx.modelName = model.getFamily().str();
    if (report)
      cost::printReport(llvm::outs(), ctx, ranked, static_cast<size_t>(top));
    if (!reportJson.empty() && failed(writeJson(module, reportJson, cost::reportJson(ctx, ranked))))
      return failure();
    if (ranked.empty() || !ranked.front().rejected.empty())
      return module.emitError() << "tetra-cost-model: no configuration of " << static_cast<int64_t>(gpus)
                                << " devices runs this model: "
                                << (ranked.empty() ? "none tried" : ranked.front().rejected);
    const cost::Prediction &w = ranked.front();
    const cost::Grid &g = w.config.grid;
    module->setAttr(
        "tetra.cost_model",
        b.getDictionaryAttr({
            b.getNamedAttr("machine", b.getStringAttr(m->name)),
            b.getNamedAttr("grid", GridAttr::get(b.getContext(), g.x(), g.y(), g.z(), g.data())),
            b.getNamedAttr("overlap", b.getStringAttr(w.config.overlap)),
            b.getNamedAttr("recompute", b.getBoolAttr(w.config.recompute)),
            b.getNamedAttr("step_s", b.getF64FloatAttr(w.stepSeconds)),
            b.getNamedAttr("compute_s", b.getF64FloatAttr(w.computeSeconds)),
            b.getNamedAttr("exposed_s", b.getF64FloatAttr(w.exposedTotal())),
            b.getNamedAttr("memory_bytes",
                           b.getI64IntegerAttr(static_cast<int64_t>(
                               w.memory.total(w.config.recompute)))),
            b.getNamedAttr("mfu", b.getF64FloatAttr(w.mfu)),
            b.getNamedAttr("candidates", b.getI64IntegerAttr(static_cast<int64_t>(ranked.size()))),
        }));
    return success();
  }

  LogicalResult runReference(ModuleOp module, const cost::Machine &m, const cost::ModelInfo &info,
                             const cost::SearchOptions &o, OpBuilder &b) {
    cost::ReferenceShape shape{info.layers, info.hidden, o.globalBatch, o.seqLen};
    llvm::Expected<std::vector<cost::ReferenceCost>> ranked =
        cost::referenceSearch(m, shape, gpus, minTensorParallel);
    if (!ranked)
      return module.emitError() << llvm::toString(ranked.takeError());
    if (ranked->empty())
      return module.emitError() << "tetra-cost-model: no grid of " << static_cast<int64_t>(gpus)
                                << " devices satisfies the reference model's constraints";
    llvm::json::Array rows;
    for (const cost::ReferenceCost &c : *ranked) {
      llvm::json::Object row{{"grid", c.grid.str()}, {"total_s", c.total}};
      static const char *axes[] = {"x", "y", "z", "data"};
      for (int a = 0; a < 4; ++a) {
        row[std::string(axes[a]) + "_bytes"] = c.bytes[a];
        row[std::string(axes[a]) + "_s"] = c.seconds[a];
      }
      rows.push_back(std::move(row));
    }
    if (report) {
      llvm::outs() << llvm::formatv("reference model (communication only, ALGORITHMS.md §1): "
                                    "{0} grids of {1} on {2}\n",
                                    ranked->size(), gpus, m.name);
      llvm::outs() << llvm::formatv("{0,-4} {1,-14} {2,14} {3,14} {4,14} {5,14} {6,14}\n", "rank",
                                    "grid", "x (s)", "y (s)", "z (s)", "data (s)", "total (s)");
      for (size_t i = 0; i < ranked->size() && i < static_cast<size_t>(top); ++i) {
        const cost::ReferenceCost &c = (*ranked)[i];
        llvm::outs() << llvm::formatv("{0,-4} {1,-14} {2,14:e6} {3,14:e6} {4,14:e6} {5,14:e6} "
                                      "{6,14:e6}\n",
                                      i + 1, c.grid.str(), c.seconds[0], c.seconds[1],
                                      c.seconds[2], c.seconds[3], c.total);
      }
    }
    llvm::json::Object json{{"format", "tetra-reference-report"},
                            {"machine", m.name},
                            {"devices", static_cast<int64_t>(gpus)},
                            {"grids", std::move(rows)}};
    if (!reportJson.empty() &&
        failed(writeJson(module, reportJson, llvm::json::Value(std::move(json)))))
      return failure();
    const cost::ReferenceCost &w = ranked->front();
    module->setAttr("tetra.cost_model",
                    b.getDictionaryAttr(
                        {b.getNamedAttr("machine", b.getStringAttr(m.name)),
                         b.getNamedAttr("mode", b.getStringAttr("reference")),
                         b.getNamedAttr("grid", GridAttr::get(b.getContext(), w.grid.x(),
                                                              w.grid.y(), w.grid.z(),
                                                              w.grid.data())),
                         b.getNamedAttr("communication_s", b.getF64FloatAttr(w.total))}));
    return success();
  }
};

} // namespace
} // namespace mlir::tetra
