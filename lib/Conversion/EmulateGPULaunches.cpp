//===- EmulateGPULaunches.cpp - outlined kernels as host loops ------------===//
#include "tetra/Conversion/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_EMULATEGPULAUNCHES
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

/// The launch's x size, a constant (the outlining makes them so).
std::optional<int64_t> constantSize(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return std::nullopt;
}

struct EmulateGPULaunchesPass : tetra::impl::EmulateGPULaunchesBase<EmulateGPULaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    for (gpu::LaunchFuncOp launch : launches)
      if (failed(emulate(launch, symbols)))
        return signalPassFailure();
    for (auto kernels : llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>()))
      kernels.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
    // The vendor GEMM of the GPU backends is the CPU's BLAS call here.
    if (auto vendor = module.lookupSymbol<func::FuncOp>("tetra_gpu_sgemm")) {
      if (module.lookupSymbol("tetra_sgemm")) {
        module.emitError("both tetra_gpu_sgemm and tetra_sgemm are declared");
        return signalPassFailure();
      }
      if (failed(SymbolTable::replaceAllSymbolUses(vendor, StringAttr::get(&getContext(), "tetra_sgemm"), module)))
        return signalPassFailure();
      vendor.setName("tetra_sgemm");
    }
  }

  LogicalResult emulate(gpu::LaunchFuncOp launch, SymbolTableCollection &symbols) {
    auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(launch, launch.getKernel());
    if (!kernel)
      return launch.emitOpError("launches a kernel that is not here");
    bool cooperates = false;
    kernel.walk([&](Operation *op) {
      StringRef dialect = op->getDialect()->getNamespace();
      if (dialect == "nvvm" || dialect == "amdgpu" || dialect == "rocdl" ||
          llvm::isa<gpu::BarrierOp, gpu::ShuffleOp>(op))
        cooperates = true;
    });
    if (cooperates)
      return launch.emitOpError("launches ")
             << kernel.getName()
             << ", whose threads cooperate; emulate kernels outlined with gemm=vendor";
    std::optional<int64_t> blocks = constantSize(launch.getGridSizeX());
    std::optional<int64_t> threads = constantSize(launch.getBlockSizeX());
    if (!blocks || !threads)
      return launch.emitOpError("has a launch size that is not a constant");

    OpBuilder b(launch);
    Location loc = launch.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto blockLoop =
        scf::ForOp::create(b, loc, zero, arith::ConstantIndexOp::create(b, loc, *blocks), one);
    b.setInsertionPointToStart(blockLoop.getBody());
    auto threadLoop =
        scf::ForOp::create(b, loc, zero, arith::ConstantIndexOp::create(b, loc, *threads), one);
    b.setInsertionPointToStart(threadLoop.getBody());
    IRMapping map;
    for (auto [arg, operand] :
         llvm::zip(kernel.getArguments(), launch.getKernelOperands()))
      map.map(arg, operand);
    for (Operation &op : kernel.getBody().front()) {
      if (llvm::isa<gpu::ReturnOp>(op))
        break;
      if (auto id = llvm::dyn_cast<gpu::ThreadIdOp>(op)) {
        if (id.getDimension() != gpu::Dimension::x)
          return launch.emitOpError("emulates x threads only");
        map.map(id.getResult(), threadLoop.getInductionVar());
        continue;
      }
      if (auto id = llvm::dyn_cast<gpu::BlockIdOp>(op)) {
        if (id.getDimension() != gpu::Dimension::x)
          return launch.emitOpError("emulates x blocks only");
        map.map(id.getResult(), blockLoop.getInductionVar());
        continue;
      }
      b.clone(op, map);
    }
    launch.erase();
    return success();
  }
};

} // namespace
