//===- UnshareResults.cpp - one buffer per returned result -----------------===//
//
// CSE can make two of an entry's results one value (two parameters whose
// gradients are the same computation), so after bufferization one buffer is
// returned twice. buffer-results-to-out-params, which writes each result
// straight into its out-parameter (hoist-static-allocs), needs every
// returned allocation to be returned once: a repeated one is copied into a
// buffer of its own before the return.
//
//===----------------------------------------------------------------------===//
#include "tetra/Conversion/Passes.h"

#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_UNSHARERESULTS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

struct UnshareResultsPass : tetra::impl::UnshareResultsBase<UnshareResultsPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    getOperation().walk([&](func::ReturnOp ret) {
      llvm::SmallPtrSet<Value, 16> returned;
      b.setInsertionPoint(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        auto type = llvm::dyn_cast<MemRefType>(operand.get().getType());
        if (!type || returned.insert(operand.get()).second)
          continue;
        auto fresh = memref::AllocOp::create(
            b, ret.getLoc(), MemRefType::get(type.getShape(), type.getElementType()));
        memref::CopyOp::create(b, ret.getLoc(), operand.get(), fresh);
        operand.set(fresh);
      }
    });
  }
};

} // namespace
