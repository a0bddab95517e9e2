//===- ParamsToArguments.cpp - parameters become function arguments -------===//
#include "tetra/TetraOps.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_PARAMSTOARGUMENTS
#include "tetra/Transforms/Passes.h.inc"

namespace {
struct ParamsToArgumentsPass
    : impl::ParamsToArgumentsBase<ParamsToArgumentsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ParamOp> params(module.getOps<ParamOp>());
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isPrivate() || func.isExternal())
        continue;
      Block &entry = func.getBody().front();
      llvm::StringMap<Value> args;
      SmallVector<Type> inputs(func.getArgumentTypes());
      for (ParamOp param : params) {
        Value arg = entry.addArgument(param.getType(), param.getLoc());
        args[param.getSymName()] = arg;
        inputs.push_back(param.getType());
      }
      func.setType(FunctionType::get(&getContext(), inputs, func.getResultTypes()));
      func.walk([&](GetParamOp get) {
        get.replaceAllUsesWith(args.lookup(get.getName()));
        get.erase();
      });
    }
  }
};
} // namespace
} // namespace mlir::tetra
