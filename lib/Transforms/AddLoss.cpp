//===- AddLoss.cpp - @loss: cross-entropy of @forward's logits ------------===//
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_ADDLOSS
#include "tetra/Transforms/Passes.h.inc"

namespace {
struct AddLossPass : impl::AddLossBase<AddLossPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("tetra-add-loss needs a `func.func @forward`");
      return signalPassFailure();
    }
    if (module.lookupSymbol("loss")) {
      module.emitError("tetra-add-loss: the module already has a `@loss`");
      return signalPassFailure();
    }
    FunctionType type = forward.getFunctionType();
    auto ids = llvm::dyn_cast<RankedTensorType>(type.getInput(0));
    if (!ids || type.getNumResults() != 1) {
      forward.emitError("tetra-add-loss expects @forward(ids, ...) -> logits");
      return signalPassFailure();
    }
    OpBuilder b(module.getContext());
    b.setInsertionPointAfter(forward);
    SmallVector<Type> inputs(type.getInputs());
    inputs.push_back(ids);
    auto lossType = RankedTensorType::get({}, b.getF32Type());
    auto loss = func::FuncOp::create(b, forward.getLoc(), "loss",
                                     b.getFunctionType(inputs, {lossType}));
    for (unsigned i = 0; i < forward.getNumArguments(); ++i)
      loss.setArgAttrs(i, forward.getArgAttrDict(i));
    IRMapping mapping;
    forward.getBody().cloneInto(&loss.getBody(), mapping);
    Block &entry = loss.getBody().front();
    Value targets = entry.addArgument(ids, forward.getLoc());
    auto ret = llvm::cast<func::ReturnOp>(entry.getTerminator());
    b.setInsertionPoint(ret);
    GoldfishAttr goldfishAttr;
    if (!goldfish.empty()) {
      goldfishAttr = llvm::dyn_cast_or_null<GoldfishAttr>(
          parseAttribute("#tetra.goldfish<" + goldfish + ">", &getContext()));
      if (!goldfishAttr) {
        module.emitError("tetra-add-loss: invalid goldfish setting '") << goldfish << "'";
        return signalPassFailure();
      }
    }
    Value value = CrossEntropyOp::create(b, ret.getLoc(), ret.getOperand(0), targets,
                                         b.getI64IntegerAttr(ignoreIndex), goldfishAttr,
                                         nullptr, nullptr, nullptr);
    ret->setOperands(value);
    setArgRole(loss, loss.getNumArguments() - 1, "targets");
    setResultRole(loss, 0, "loss");

    // With goldfish, @eval_loss is the same loss without the mask (validation
    // loss counts every target), and @goldfish_mask(targets) -> 1.0 where a
    // target is dropped, for the runtime's mask printing and dropped-token
    // counts.
    if (goldfishAttr) {
      b.setInsertionPointAfter(loss);
      auto evalLoss = llvm::cast<func::FuncOp>(b.clone(*loss));
      evalLoss.setName("eval_loss");
      evalLoss.walk([](CrossEntropyOp ce) { ce.removeGoldfishAttr(); });
      loss = evalLoss;
      b.setInsertionPointAfter(loss);
      auto maskType = RankedTensorType::get(ids.getShape(), b.getF32Type());
      auto mask = func::FuncOp::create(b, loss.getLoc(), "goldfish_mask",
                                       b.getFunctionType({ids}, {maskType}));
      Block *entry = mask.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value dropped = GoldfishMaskOp::create(b, loss.getLoc(), maskType, entry->getArgument(0),
                                             goldfishAttr);
      func::ReturnOp::create(b, loss.getLoc(), dropped);
      setArgRole(mask, 0, "targets");
      setResultRole(mask, 0, "dropped");
    }
  }
};
} // namespace
} // namespace mlir::tetra
