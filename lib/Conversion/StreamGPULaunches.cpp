//===- StreamGPULaunches.cpp - a block's launches queued on one stream ----===//
//
// A synchronous gpu.launch_func makes the host wait for every kernel. Here
// the launches of a block become one chain of async launches (one stream),
// and the host waits for it only before an op that may read or write
// memory on the host, or holds regions, or ends the block. Allocation and
// deallocation need no wait: the device backends hand a thread's
// temporaries out again in its stream's order.
//
//===----------------------------------------------------------------------===//
#include "tetra/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_STREAMGPULAUNCHES
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

/// Whether the host may run `op` while launched kernels are still running:
/// it touches no memory's contents on the host.
bool runsBesideKernels(Operation *op) {
  if (op->getNumRegions() != 0 || op->hasTrait<OpTrait::IsTerminator>())
    return false;
  if (llvm::isa<memref::AllocOp, memref::DeallocOp, ViewLikeOpInterface>(op))
    return true;
  return isMemoryEffectFree(op);
}

/// Chains the launches of `block`, waiting before every op the host may
/// not run beside them; recurses into the regions of such ops.
void streamLaunches(Block &block) {
  OpBuilder b(block.getParentOp()->getContext());
  Value token; // the stream's last launch since the host last waited
  for (Operation &op : llvm::make_early_inc_range(block)) {
    auto launch = llvm::dyn_cast<gpu::LaunchFuncOp>(op);
    if (launch && launch.getAsyncToken())
      continue; // already asynchronous: someone else orders it
    if (launch && !launch.getAsyncObject()) {
      b.setInsertionPoint(launch);
      auto tokenType = b.getType<gpu::AsyncTokenType>();
      if (!token)
        token = gpu::WaitOp::create(b, launch.getLoc(), tokenType, ValueRange()).getAsyncToken();
      SmallVector<Value> dependencies{token};
      llvm::append_range(dependencies, launch.getAsyncDependencies());
      std::optional<gpu::KernelDim3> cluster;
      if (launch.hasClusterSize())
        cluster = launch.getClusterSizeOperandValues();
      auto async = gpu::LaunchFuncOp::create(
          b, launch.getLoc(), launch.getKernelAttr(), launch.getGridSizeOperandValues(),
          launch.getBlockSizeOperandValues(), launch.getDynamicSharedMemorySize(),
          launch.getKernelOperands(), tokenType, dependencies, cluster);
      token = async.getAsyncToken();
      launch.erase();
      continue;
    }
    if (runsBesideKernels(&op))
      continue;
    if (token) {
      b.setInsertionPoint(&op);
      gpu::WaitOp::create(b, op.getLoc(), Type(), ValueRange{token});
      token = Value();
    }
    for (Region &region : op.getRegions())
      for (Block &inner : region)
        streamLaunches(inner);
  }
}

struct StreamGPULaunchesPass : tetra::impl::StreamGPULaunchesBase<StreamGPULaunchesPass> {
  void runOnOperation() override {
    getOperation().walk([](FunctionOpInterface func) {
      if (!func->getParentOfType<gpu::GPUModuleOp>())
        for (Block &block : func.getFunctionBody())
          streamLaunches(block);
    });
  }
};

} // namespace
