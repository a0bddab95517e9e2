//===- EmulateGPUTrampolines.cpp - emulated launches, in LLVM --------------===//
//
// The runtime's emulator starts every emulated thread through one C
// signature, void (*)(void *). Only once the host code is LLVM are a
// kernel's operands plain values (memrefs spread into their descriptors'
// fields), so this is where they are packed into a struct for it.
//
//===----------------------------------------------------------------------===//
#include "tetra/Conversion/Passes.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_EMULATEGPUTRAMPOLINES
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kLaunchSuffix = "_launch";
constexpr unsigned kLaunchSizes = 3; // grid, block, warp size

struct EmulateGPUTrampolinesPass
    : tetra::impl::EmulateGPUTrampolinesBase<EmulateGPUTrampolinesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> launches;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      if (func.isExternal() && func.getName().ends_with("_emulated_launch"))
        launches.push_back(func);
    for (LLVM::LLVMFuncOp launch : launches)
      if (failed(define(launch)))
        return signalPassFailure();
  }

  /// The runtime's tetra_emu_launch(entry, operands, grid, block, warp, name).
  LLVM::LLVMFuncOp runtimeLaunch(OpBuilder &b, Location loc) {
    ModuleOp module = getOperation();
    if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>("tetra_emu_launch"))
      return existing;
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    auto i64 = b.getI64Type();
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(module.getBody());
    return LLVM::LLVMFuncOp::create(
        b, loc, "tetra_emu_launch",
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b.getContext()),
                                    {ptr, ptr, i64, i64, i64, ptr}));
  }

  LogicalResult define(LLVM::LLVMFuncOp launch) {
    ModuleOp module = getOperation();
    Location loc = launch.getLoc();
    StringRef hostName = launch.getName().drop_back(kLaunchSuffix.size());
    auto host = module.lookupSymbol<LLVM::LLVMFuncOp>(hostName);
    if (!host)
      return launch.emitOpError("has no ") << hostName << " to launch";
    ArrayRef<Type> params = launch.getFunctionType().getParams();
    if (params.size() < kLaunchSizes ||
        params.drop_front(kLaunchSizes) != host.getFunctionType().getParams())
      return launch.emitOpError("does not take ") << hostName << "'s operands";
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto operands = LLVM::LLVMStructType::getLiteral(ctx, params.drop_front(kLaunchSizes));
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());

    // <kernel>_emulated_entry(ptr): unpack and call.
    auto entry = LLVM::LLVMFuncOp::create(
        b, loc, (hostName + "_entry").str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}),
        LLVM::Linkage::Internal);
    b.setInsertionPointToStart(entry.addEntryBlock(b));
    SmallVector<Value> unpacked;
    for (auto [i, type] : llvm::enumerate(operands.getBody())) {
      Value field = LLVM::GEPOp::create(b, loc, ptr, operands, entry.getArgument(0),
                                        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
      unpacked.push_back(LLVM::LoadOp::create(b, loc, type, field));
    }
    LLVM::CallOp::create(b, loc, host, unpacked);
    LLVM::ReturnOp::create(b, loc, ValueRange{});

    // <kernel>_emulated_launch(grid, block, warp, operands...): pack and run.
    launch.setLinkage(LLVM::Linkage::Internal);
    launch.setVisibility(SymbolTable::Visibility::Private);
    b.setInsertionPointToStart(launch.addEntryBlock(b));
    Value one = LLVM::ConstantOp::create(b, loc, b.getI64Type(), b.getI64IntegerAttr(1));
    Value packed = LLVM::AllocaOp::create(b, loc, ptr, operands, one);
    for (unsigned i = 0; i < operands.getBody().size(); ++i) {
      Value field = LLVM::GEPOp::create(b, loc, ptr, operands, packed,
                                        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, loc, launch.getArgument(kLaunchSizes + i), field);
    }
    Value entryAddress = LLVM::AddressOfOp::create(b, loc, entry);
    std::string kernelName = hostName.drop_back(StringRef("_emulated").size()).str();
    Value name = LLVM::createGlobalString(loc, b, (hostName + "_name").str(),
                                          kernelName + '\0', LLVM::Linkage::Internal);
    LLVM::CallOp::create(b, loc, runtimeLaunch(b, loc),
                         ValueRange{entryAddress, packed, launch.getArgument(0),
                                    launch.getArgument(1), launch.getArgument(2), name});
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return success();
  }
};

} // namespace
