//===- ModelInfo.cpp - the sizes of a model the search needs --------------===//
#include "tetra/Analysis/ModelStats.h"
#include "tetra/CostModel/CostModel.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tetra::cost {

FailureOr<ModelInfo> modelInfoOf(ModuleOp module) {
  FailureOr<ModelStats> stats = computeModelStats(module);
  if (failed(stats))
    return failure();
  ModelInfo info;
  info.parameters = static_cast<double>(stats->parameters);
  info.layers = stats->layers.value_or(0);
  // The token embedding's table is [vocabulary, hidden].
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  EmbeddingOp embedding;
  if (forward)
    forward.walk([&](EmbeddingOp e) {
      if (!embedding)
        embedding = e;
    });
  if (!embedding)
    return module.emitError("the cost model needs @forward with a tetra.embedding");
  auto table = llvm::cast<RankedTensorType>(embedding.getTable().getType());
  info.vocab = table.getDimSize(0);
  info.hidden = table.getDimSize(1);
  return info;
}

} // namespace mlir::tetra::cost
