//===- Partition.cpp - tetra-partition: local shapes and collectives ------===//
#include "tetra/Sharding.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_PARTITION
#include "tetra/Transforms/Passes.h.inc"

namespace {

struct PartitionPass : impl::PartitionBase<PartitionPass> {
  LogicalResult partitionFunction(func::FuncOp func, ShardingState &state) {
    for (BlockArgument arg : func.getArguments()) {
      if (!llvm::isa<RankedTensorType>(arg.getType()))
        continue; // scalars are the same on every rank
      auto layout = func.getArgAttrOfType<LayoutAttr>(arg.getArgNumber(), kLayoutAttr);
      if (!layout)
        return func.emitOpError("argument ")
               << arg.getArgNumber() << " has no layout (run tetra-shard first)";
      state.setLayout(arg, layout);
      arg.setType(state.localType(llvm::cast<RankedTensorType>(arg.getType()), layout));
      func.removeArgAttr(arg.getArgNumber(), kLayoutAttr);
    }
    SmallVector<Operation *> ops;
    for (Operation &op : func.getBody().front().without_terminator())
      ops.push_back(&op);
    OpBuilder b(func.getContext());
    for (Operation *op : ops) {
      auto layouts = op->getAttrOfType<ArrayAttr>(kLayoutsAttr);
      auto rule = llvm::dyn_cast<ShardableOpInterface>(op);
      if (!layouts && isReplicatedScalarOp(op))
        continue; // tetra-shard left it alone
      if (!layouts || !rule)
        return op->emitOpError("has no layout (run tetra-shard first)");
      for (auto [result, layout] : llvm::zip(op->getResults(), layouts))
        state.setLayout(result, llvm::cast<LayoutAttr>(layout));
      op->removeAttr(kLayoutsAttr);
      if (failed(rule.partition(state, b)))
        return failure();
    }
    Operation *ret = func.getBody().front().getTerminator();
    func.setType(FunctionType::get(func.getContext(), func.getBody().getArgumentTypes(),
                                   ret->getOperandTypes()));
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(kGridAttrName);
    if (!grid) {
      module.emitError("tetra-partition needs the module's `tetra.grid` (run tetra-shard first)");
      return signalPassFailure();
    }
    ShardingState state(grid);
    for (auto param : module.getOps<ParamOp>())
      if (std::optional<LayoutAttr> layout = param.getLayout())
        param.setLocalTypeAttr(
            TypeAttr::get(state.localType(param.getTensorType(), *layout)));
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(partitionFunction(func, state)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::tetra
