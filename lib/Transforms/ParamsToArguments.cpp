//===- ParamsToArguments.cpp - parameters become function arguments -------===//
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"
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
      llvm::StringMap<Value> args;
      for (ParamOp param : params) {
        unsigned index = func.getNumArguments();
        // insertArgument keeps the argument attributes in step.
        if (failed(func.insertArgument(index, param.getLocalTensorType(), {}, param.getLoc())))
          return signalPassFailure();
        setArgRole(func, index, "param", param.getSymName());
        args[param.getSymName()] = func.getArgument(index);
      }
      func.walk([&](GetParamOp get) {
        get.replaceAllUsesWith(args.lookup(get.getName()));
        get.erase();
      });
    }
  }
};
} // namespace
} // namespace mlir::tetra
