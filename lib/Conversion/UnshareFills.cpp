//===- UnshareFills.cpp - one fill per destination ------------------------===//
#include "tetra/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_UNSHAREFILLS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

struct UnshareFillsPass : tetra::impl::UnshareFillsBase<UnshareFillsPass> {
  void runOnOperation() override {
    SmallVector<linalg::FillOp> shared;
    getOperation().walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->getResult(0).hasOneUse() &&
          !fill->getResult(0).use_empty())
        shared.push_back(fill);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::FillOp fill : shared) {
      Value filled = fill->getResult(0);
      // Every use but the first in its block gets a clone of the fill (and
      // of the empty tensor it fills, when that is its destination).
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : filled.getUses())
        uses.push_back(&use);
      auto earlier = [](OpOperand *a, OpOperand *b) {
        Operation *x = a->getOwner(), *y = b->getOwner();
        return x->getBlock() == y->getBlock() && x->isBeforeInBlock(y);
      };
      std::iter_swap(uses.begin(), llvm::min_element(uses, earlier));
      for (OpOperand *use : llvm::drop_begin(uses)) {
        Operation *user = use->getOwner();
        rewriter.setInsertionPoint(user);
        IRMapping map;
        if (auto empty = fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>())
          map.map(empty.getResult(), rewriter.clone(*empty)->getResult(0));
        use->set(rewriter.clone(*fill, map)->getResult(0));
      }
    }
  }
};

} // namespace
