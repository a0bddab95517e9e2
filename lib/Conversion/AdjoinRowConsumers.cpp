//===- AdjoinRowConsumers.cpp - a row reduction's reader right after it ----===//
//
// The GPU outlining fuses adjacent groups over the same rows into one
// block-per-row kernel. The cross-entropy's gradient reads the logits' row
// statistics, but its other inputs (the goldfish mask, the kept tokens'
// count) are computed after the statistics, and the loss's sum between
// them: hoisting those inputs above the statistics and the gradient right
// after them lets one kernel read each row of logits for both.
//
//===----------------------------------------------------------------------===//
#include "tetra/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_ADJOINROWCONSUMERS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

bool isRowReduction(linalg::GenericOp op) {
  return op.hasPureTensorSemantics() && op.getNumReductionLoops() > 0 &&
         op.getNumParallelLoops() > 0;
}

bool allParallel(linalg::GenericOp op) {
  return op.hasPureTensorSemantics() && op.getNumReductionLoops() == 0;
}

/// The values `op` reads: its operands and what its regions take from above.
SmallVector<Value> readValues(Operation *op) {
  SmallVector<Value> values(op->getOperands());
  llvm::SetVector<Value> above;
  getUsedValuesDefinedAbove(op->getRegions(), above);
  llvm::append_range(values, above);
  return values;
}

/// The ops between `reduction` and `consumer` in their block that
/// `consumer`'s inputs other than `reduction`'s results come from, in block
/// order; none when one of them depends on `reduction` or touches memory.
std::optional<SmallVector<Operation *>> hoistable(linalg::GenericOp reduction,
                                                  linalg::GenericOp consumer) {
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> worklist = readValues(consumer);
  bool direct = true; // the values `consumer` itself reads
  while (!worklist.empty()) {
    SmallVector<Value> next;
    for (Value v : worklist) {
      Operation *def = v.getDefiningOp();
      if (!def || def->getBlock() != reduction->getBlock() ||
          def->isBeforeInBlock(reduction))
        continue;
      if (def == reduction) {
        if (!direct)
          return std::nullopt; // an input computed from the statistics
        continue;
      }
      if (!isMemoryEffectFree(def))
        return std::nullopt;
      if (slice.insert(def))
        llvm::append_range(next, readValues(def));
    }
    worklist = std::move(next);
    direct = false;
  }
  SmallVector<Operation *> ordered(slice.begin(), slice.end());
  llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return ordered;
}

/// The first fully parallel generic after `reduction` in its block that
/// reads one of its results.
linalg::GenericOp firstReader(linalg::GenericOp reduction) {
  for (Operation *op = reduction->getNextNode(); op; op = op->getNextNode()) {
    auto generic = llvm::dyn_cast<linalg::GenericOp>(op);
    if (!generic || !allParallel(generic))
      continue;
    if (llvm::any_of(generic.getDpsInputs(),
                     [&](Value v) { return v.getDefiningOp() == reduction; }))
      return generic;
  }
  return {};
}

struct AdjoinRowConsumersPass : tetra::impl::AdjoinRowConsumersBase<AdjoinRowConsumersPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isRowReduction(op) && llvm::isa<func::FuncOp>(op->getParentOp()))
        reductions.push_back(op);
    });
    for (linalg::GenericOp reduction : reductions) {
      linalg::GenericOp consumer = firstReader(reduction);
      if (!consumer || consumer->getPrevNode() == reduction)
        continue;
      std::optional<SmallVector<Operation *>> inputs = hoistable(reduction, consumer);
      if (!inputs)
        continue;
      for (Operation *op : *inputs)
        op->moveBefore(reduction);
      consumer->moveAfter(reduction);
    }
  }
};

} // namespace
