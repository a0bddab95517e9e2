//===- RowReductionKernel.h - one block per row of a reduction ------------===//
#ifndef TETRA_LIB_CONVERSION_ROWREDUCTIONKERNEL_H
#define TETRA_LIB_CONVERSION_ROWREDUCTIONKERNEL_H

#include "TensorCoreGemm.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::tetra {

/// Rows at least this long get a block each; shorter ones a thread.
constexpr int64_t kBlockPerRowMinimum = 64;

/// How each output of a reduction combines its row: out = combiner(out,
/// x(row element)), with an associative, commutative combiner (addf, mulf,
/// max or min), the output read nowhere else in the body; or, for an
/// online log-sum-exp (kOnlineLogSumExpAttr), outputs 0 and 1 as a pair.
struct RowReduction {
  SmallVector<Operation *> combiners; // one per output, in the body; null for the pair
  bool onlineLogSumExp = false;
};

/// The reduction's combiners, when every output reduces that way and the
/// rows (the product of the reduction loops) have kBlockPerRowMinimum
/// elements or more.
std::optional<RowReduction> matchRowReduction(linalg::GenericOp op);

/// Emits, at `b`'s insertion point inside `kernel`, the group as one block
/// per point of its parallel loops (grid-stride). The block's threads take
/// the row's elements in turn, each folding its share into a partial, then
/// combine the partials as a tree in shared memory (workgroup attributions
/// of `kernel`); thread 0 folds the result into the output. Partial sums
/// reassociate the reduction, so results differ from the sequential order
/// by rounding. Returns the launch.
FailureOr<LaunchShape> buildRowReduction(OpBuilder &b, gpu::GPUFuncOp kernel,
                                         linalg::GenericOp op, IRMapping &map,
                                         const RowReduction &rows, int64_t blockSize);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_ROWREDUCTIONKERNEL_H
