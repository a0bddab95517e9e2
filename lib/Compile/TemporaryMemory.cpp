//===- TemporaryMemory.cpp - peak bytes a kernel entry allocates ----------===//
//
// After bufferization and the deallocation pipeline every temporary of an
// entry point is a static memref.alloc with its memref.dealloc; walking the
// body in order and keeping the running total gives the peak the kernel will
// hold (loops' bodies balance their own allocations, so one pass over them
// finds their peak too). Each allocation is counted as finalize-memref-to-llvm
// lowers it: its bytes plus its alignment (the lowering over-allocates to
// align the pointer).
//
//===----------------------------------------------------------------------===//
#include "tetra/Compile/Compile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

FailureOr<int64_t> tetra::peakTemporaryBytes(func::FuncOp func) {
  llvm::DenseMap<Value, int64_t> live;
  int64_t current = 0, peak = 0;
  WalkResult walked = func.walk([&](Operation *op) {
    if (auto alloc = llvm::dyn_cast<memref::AllocOp>(op)) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape())
        return WalkResult::interrupt();
      int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8 +
                      alloc.getAlignment().value_or(0);
      live[alloc.getResult()] = bytes;
      current += bytes;
      peak = std::max(peak, current);
    } else if (auto dealloc = llvm::dyn_cast<memref::DeallocOp>(op)) {
      Value root = dealloc.getMemref();
      while (auto view = root.getDefiningOp<ViewLikeOpInterface>())
        root = view.getViewSource();
      auto it = live.find(root);
      if (it != live.end()) {
        current -= it->second;
        live.erase(it);
      }
    }
    return WalkResult::advance();
  });
  if (walked.wasInterrupted())
    return failure();
  return peak;
}
