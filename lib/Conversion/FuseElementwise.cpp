//===- FuseElementwise.cpp - elementwise chains into one loop nest ---------===//
#include "tetra/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

bool allParallel(linalg::GenericOp op) {
  return llvm::all_of(op.getIteratorTypesArray(), [](utils::IteratorType t) {
    return t == utils::IteratorType::parallel;
  });
}

struct FuseElementwisePass : tetra::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *operand) {
      auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
      auto consumer = llvm::dyn_cast<linalg::GenericOp>(operand->getOwner());
      // One use: fusing a value read twice would compute it twice.
      return producer && consumer && producer->hasOneUse() && allParallel(producer) &&
             allParallel(consumer);
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
