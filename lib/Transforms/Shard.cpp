//===- Shard.cpp - tetra-shard: a layout for every value on a 4D grid -----===//
#include "tetra/Sharding.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringExtras.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_SHARD
#include "tetra/Transforms/Passes.h.inc"

namespace {

/// "2x2x1x2" -> the grid, or an error.
FailureOr<GridAttr> parseGrid(ModuleOp module, StringRef text) {
  SmallVector<StringRef> parts;
  text.split(parts, 'x');
  int64_t sizes[4];
  bool ok = parts.size() == 4;
  for (unsigned i = 0; ok && i < 4; ++i)
    ok = llvm::to_integer(parts[i], sizes[i], 10) && sizes[i] >= 1;
  if (!ok)
    return module.emitError("grid '")
           << text << "' must be four positive sizes XxYxZxD (x, y, z, data)";
  return GridAttr::get(module.getContext(), sizes[0], sizes[1], sizes[2], sizes[3]);
}

struct ShardPass : impl::ShardBase<ShardPass> {
  using Base::Base;

  LogicalResult shardFunction(func::FuncOp func, ShardingState &state) {
    // Entry arguments are token ids and targets (samples over data*z), KV
    // caches [B, T, heads, D] (samples over data*z, heads over y), or scalars
    // every rank shares.
    for (BlockArgument arg : func.getArguments()) {
      auto type = llvm::dyn_cast<RankedTensorType>(arg.getType());
      if (!type)
        continue;
      auto role = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kRoleAttr);
      bool cache = role && (role.getValue() == "k_cache" || role.getValue() == "v_cache");
      if (!cache && !llvm::isa<IntegerType>(type.getElementType()))
        return func.emitOpError("argument ")
               << arg.getArgNumber() << " of type " << arg.getType()
               << " has no sharding rule (entry arguments are token ids or KV caches)";
      LayoutAttr layout = cache ? state.layout({{GridAxis::data, GridAxis::z}, {},
                                                {GridAxis::y}, {}})
                                : state.activation(type.getRank());
      if (cache) {
        std::string what = ("the KV cache (argument " + Twine(arg.getArgNumber()) + ")").str();
        if (failed(state.checkDivides(func, what, type, layout)))
          return failure();
      }
      int64_t shards = state.groupSize({GridAxis::data, GridAxis::z});
      if (type.getDimSize(0) % shards != 0)
        return func.emitOpError("cannot split the micro-batch of ")
               << type.getDimSize(0) << " samples (argument " << arg.getArgNumber()
               << ") over data*z (" << shards << " ranks): use a micro-batch that is a "
               << "multiple of " << shards;
      state.setLayout(arg, layout);
      func.setArgAttr(arg.getArgNumber(), kLayoutAttr, layout);
    }
    SmallVector<Operation *> ops;
    for (Operation &op : func.getBody().front().without_terminator())
      ops.push_back(&op);
    for (Operation *op : ops) {
      auto rule = llvm::dyn_cast<ShardableOpInterface>(op);
      if (!rule && isReplicatedScalarOp(op))
        continue;
      if (!rule)
        return op->emitOpError("has no sharding rule");
      if (failed(rule.inferLayouts(state)))
        return failure();
    }
    // Recorded at the end: a parameter's read gets its layout from its users.
    Builder b(func.getContext());
    for (Operation *op : ops) {
      if (isReplicatedScalarOp(op))
        continue;
      SmallVector<Attribute> layouts;
      for (Value result : op->getResults()) {
        LayoutAttr layout = state.getLayout(result);
        if (!layout)
          return op->emitOpError("has a result no rule gave a layout");
        layouts.push_back(layout);
      }
      op->setAttr(kLayoutsAttr, b.getArrayAttr(layouts));
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<GridAttr> parsed = parseGrid(module, grid);
    if (failed(parsed))
      return signalPassFailure();
    module->setAttr(kGridAttrName, *parsed);
    ShardingState state(*parsed);
    // Vocabulary parameters may be padded: tables looked up by token ids, and
    // the weights producing the loss's logits.
    module.walk([&](Operation *op) {
      if (auto embedding = llvm::dyn_cast<EmbeddingOp>(op);
          embedding && llvm::isa<BlockArgument>(embedding.getIndices()))
        if (ParamOp param = state.paramOf(embedding.getTable()))
          state.markVocab(param);
      if (auto loss = llvm::dyn_cast<CrossEntropyOp>(op))
        if (auto head = loss.getLogits().getDefiningOp<LinearOp>())
          if (ParamOp param = state.paramOf(head.getWeight()))
            state.markVocab(param);
    });
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(shardFunction(func, state)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::tetra
