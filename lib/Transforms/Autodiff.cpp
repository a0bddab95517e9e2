//===- Autodiff.cpp - @grad and @update from @loss -------------------------===//
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_AUTODIFF
#include "tetra/Transforms/Passes.h.inc"

namespace {

Value zerosLike(OpBuilder &b, Location loc, Type type) {
  auto tensor = llvm::cast<RankedTensorType>(type);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(tensor, b.getZeroAttr(tensor.getElementType())));
}

bool isFloatTensor(Type type) {
  auto tensor = llvm::dyn_cast<RankedTensorType>(type);
  return tensor && llvm::isa<FloatType>(tensor.getElementType());
}

/// Appends the backward pass of `func`'s body (whose single result is a scalar
/// loss) before its return, and makes it return (loss, parameter gradients).
LogicalResult differentiate(func::FuncOp func, MutableArrayRef<ParamOp> params) {
  Block &body = func.getBody().front();
  auto ret = llvm::cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  OpBuilder b(ret);
  Location loc = ret.getLoc();

  // A value used several times gets the sum of its uses' gradients.
  auto addInto = [&](Value &slot, Value grad) {
    slot = slot ? Value(AddOp::create(b, loc, slot, grad)) : grad;
  };
  llvm::DenseMap<Value, Value> grads;
  auto accumulate = [&](Value value, Value grad) { addInto(grads[value], grad); };
  accumulate(loss, arith::ConstantOp::create(
                       b, loc, DenseElementsAttr::get(
                                   llvm::cast<RankedTensorType>(loss.getType()),
                                   b.getF32FloatAttr(1.0f))));
  llvm::StringMap<Value> paramGrads;

  // Walk the forward ops (those before the backward ops we append) in reverse.
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);
  for (Operation *op : llvm::reverse(forward)) {
    SmallVector<Value> resultGrads;
    bool any = false;
    for (Value r : op->getResults()) {
      resultGrads.push_back(grads.lookup(r));
      any |= resultGrads.back() != nullptr;
    }
    if (!any)
      continue;
    if (auto get = llvm::dyn_cast<GetParamOp>(op)) {
      addInto(paramGrads[get.getName()], resultGrads[0]);
      continue;
    }
    if (op->getNumRegions())
      return op->emitError("'") << op->getName() << "' cannot be differentiated yet";
    auto diff = llvm::dyn_cast<DifferentiableOpInterface>(op);
    if (!diff)
      return op->emitError("'") << op->getName() << "' has no gradient rule";
    SmallVector<Value> operandGrads(op->getNumOperands());
    b.setInsertionPoint(ret);
    if (failed(diff.buildGradients(b, resultGrads, operandGrads)))
      return failure();
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
      if (grad && isFloatTensor(operand.getType()))
        accumulate(operand, grad);
  }

  SmallVector<Value> results{loss};
  for (ParamOp param : params) {
    Value grad = paramGrads.lookup(param.getSymName());
    results.push_back(grad ? grad : zerosLike(b, loc, param.getLocalTensorType()));
  }
  ret->setOperands(results);
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  setResultRole(func, 0, "loss");
  for (auto [i, param] : llvm::enumerate(params))
    setResultRole(func, i + 1, "grad", param.getSymName());
  return success();
}

struct AutodiffPass : impl::AutodiffBase<AutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto loss = module.lookupSymbol<func::FuncOp>("loss");
    if (!loss) {
      module.emitError("tetra-autodiff needs `@loss` (run tetra-add-loss first)");
      return signalPassFailure();
    }
    SmallVector<ParamOp> params(module.getOps<ParamOp>());
    OpBuilder b(ctx);

    // @grad: a copy of @loss, differentiated.
    b.setInsertionPointAfter(loss);
    auto grad = llvm::cast<func::FuncOp>(b.clone(*loss));
    grad.setName("grad");
    if (failed(differentiate(grad, params)))
      return signalPassFailure();

    // @update: AdamW on every parameter.
    Location loc = loss.getLoc();
    SmallVector<Type> inputs{b.getF32Type(), b.getI64Type(), b.getF32Type()};
    SmallVector<Type> results;
    for (int copy = 0; copy < 3; ++copy)
      for (ParamOp param : params) {
        inputs.push_back(param.getLocalTensorType());
        results.push_back(param.getLocalTensorType());
      }
    b.setInsertionPointAfter(grad);
    auto update = func::FuncOp::create(b, loc, "update",
                                       b.getFunctionType(inputs, results));
    Block *entry = update.addEntryBlock();
    b.setInsertionPointToStart(entry);
    size_t n = params.size();
    SmallVector<Value> newParams, newM, newV;
    for (auto [i, param] : llvm::enumerate(params)) {
      Value value = GetParamOp::create(b, loc, param.getLocalTensorType(),
                                         param.getSymName());
      // Decay matrices, not biases and norm scales.
      double decay = param.getTensorType().getRank() >= 2 ? weightDecay : 0.0;
      auto step = AdamWOp::create(
          b, loc, value, entry->getArgument(3 + i), entry->getArgument(3 + n + i),
          entry->getArgument(3 + 2 * n + i), entry->getArgument(0),
          entry->getArgument(1), entry->getArgument(2), b.getF64FloatAttr(beta1),
          b.getF64FloatAttr(beta2), b.getF64FloatAttr(eps), b.getF64FloatAttr(decay));
      newParams.push_back(step.getNewParam());
      newM.push_back(step.getNewM());
      newV.push_back(step.getNewV());
    }
    SmallVector<Value> all(newParams);
    llvm::append_range(all, newM);
    llvm::append_range(all, newV);
    func::ReturnOp::create(b, loc, all);
    setArgRole(update, 0, "lr");
    setArgRole(update, 1, "step");
    setArgRole(update, 2, "grad_scale");
    for (auto [i, param] : llvm::enumerate(params)) {
      StringRef name = param.getSymName();
      setArgRole(update, 3 + i, "grad", name);
      setArgRole(update, 3 + n + i, "m", name);
      setArgRole(update, 3 + 2 * n + i, "v", name);
      setResultRole(update, i, "param", name);
      setResultRole(update, n + i, "m", name);
      setResultRole(update, 2 * n + i, "v", name);
    }
  }
};

} // namespace
} // namespace mlir::tetra
