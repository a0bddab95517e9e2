//===- PackedWrappers.cpp - one void(void**) entry per kernel function ----===//
//
// The runtime calls every entry point the same way, whatever its arity:
// `tetra_NAME(argv)` loads each argument through argv and calls the C
// interface `_mlir_ciface_NAME`.
//
//===----------------------------------------------------------------------===//
#include "tetra/Compile/Compile.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

LogicalResult tetra::addPackedWrappers(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  SmallVector<LLVM::LLVMFuncOp> interfaces;
  for (auto func : module.getOps<LLVM::LLVMFuncOp>())
    if (func.getName().starts_with("_mlir_ciface_") && !func.isExternal())
      interfaces.push_back(func);
  for (LLVM::LLVMFuncOp iface : interfaces) {
    StringRef name = iface.getName().drop_front(strlen("_mlir_ciface_"));
    b.setInsertionPointToEnd(module.getBody());
    Location loc = iface.getLoc();
    auto wrapper = LLVM::LLVMFuncOp::create(
        b, loc, ("tetra_" + name).str(), LLVM::LLVMFunctionType::get(voidType, {ptr}));
    Block *entry = wrapper.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value argv = entry->getArgument(0);
    SmallVector<Value> args;
    LLVM::LLVMFunctionType type = iface.getFunctionType();
    if (!llvm::isa<LLVM::LLVMVoidType>(type.getReturnType()))
      return iface.emitError("entry point returns a value; expected out-params");
    for (auto [i, argType] : llvm::enumerate(type.getParams())) {
      Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, argv,
                                       ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      Value pointee = LLVM::LoadOp::create(b, loc, ptr, slot);
      if (llvm::isa<LLVM::LLVMPointerType>(argType)) {
        args.push_back(pointee);
      } else if (llvm::isa<IntegerType, FloatType>(argType)) {
        args.push_back(LLVM::LoadOp::create(b, loc, argType, pointee));
      } else {
        return iface.emitError("entry point argument ")
               << i << " has a type the packed ABI does not pass: " << argType;
      }
    }
    LLVM::CallOp::create(b, loc, iface, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
  return success();
}
