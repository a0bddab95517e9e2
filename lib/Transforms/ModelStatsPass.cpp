//===- ModelStatsPass.cpp - print parameter count and FLOPs ---------------===//
#include "tetra/Analysis/ModelStats.h"
#include "tetra/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_MODELSTATS
#include "tetra/Transforms/Passes.h.inc"

namespace {
struct ModelStatsPass : impl::ModelStatsBase<ModelStatsPass> {
  using Base::Base;

  void runOnOperation() override {
    FailureOr<ModelStats> stats = computeModelStats(getOperation(), seqLen);
    if (failed(stats))
      return signalPassFailure();
    llvm::raw_ostream &os = llvm::outs();
    os << "parameters: " << stats->parameters << "\n";
    os << "parameter-tensors: " << stats->parameterTensors << "\n";
    if (stats->layers)
      os << "layers: " << *stats->layers << "\n";
    os << "seq-len: " << stats->seqLen << "\n";
    os << "forward-flops-per-token: "
       << llvm::format("%.0f", stats->forwardFlopsPerToken) << "\n";
    os.flush();
    markAllAnalysesPreserved();
  }
};
} // namespace
} // namespace mlir::tetra
