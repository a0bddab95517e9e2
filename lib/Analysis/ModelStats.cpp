//===- ModelStats.cpp - size and cost of a model in tetra IR --------------===//
#include "tetra/Analysis/ModelStats.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::tetra;

FailureOr<ModelStats> tetra::computeModelStats(ModuleOp module, int64_t seqLen) {
  ModelStats stats;
  module.walk([&](ParamOp param) {
    stats.parameters += param.getNumElements();
    ++stats.parameterTensors;
  });
  if (auto model = module->getAttrOfType<ModelAttr>(kModelAttrName)) {
    stats.layers = model.getLayers();
    stats.context = model.getContextLength();
  }
  stats.seqLen = seqLen > 0 ? seqLen : stats.context.value_or(0);
  if (stats.seqLen <= 0)
    return module.emitError("no sequence length for the FLOP count: the module "
                            "has no `tetra.model` context; pass seq-len=N");
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("no `func.func @forward` to count FLOPs of");
  stats.forwardFlopsPerToken = forwardFlopsPerToken(forward.getBody(), stats.seqLen);
  return stats;
}
