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

/// The buffer a view (subview, cast, reshape) is of.
Value rootBuffer(Value v);

/// The buffers `op`'s body reads without their being operands (memrefs
/// from above, loaded at indices the body computes: rotary's tables, an
/// embedding row), as root buffers.
SmallVector<Value> capturedBuffers(linalg::GenericOp op);

/// Whether one of `x`, `y` writes (as an output) a buffer the other's body
/// reads from above, at indices no map states: in one kernel with no
/// barrier between them, a thread could read it before another thread, or
/// another block, wrote it.
bool writesWhatTheOtherCaptures(linalg::GenericOp x, linalg::GenericOp y);

/// Whether `later` follows `earlier` in its block with only ops between
/// that neither touch memory nor free it (views, constants, allocations):
/// the two can run as one kernel launched where `later` was.
bool adjacentGroups(Operation *earlier, Operation *later);

/// One group of a row kernel: a row reduction (with its combiners), a
/// pointwise op over the same loops (no `rows`), or one over the points of
/// the rows only (`perPoint`: a fill of the statistics). `maps` are its
/// indexing maps in the run's loops.
struct RowRunMember {
  linalg::GenericOp op;
  std::optional<RowReduction> rows;
  bool perPoint = false;
  SmallVector<AffineMap> maps;
};

/// The groups from `groups[first]` on that can share one block-per-row
/// kernel: adjacent ops (with only memory-free ops or allocations between)
/// over the same static loops, each a row reduction of the same rows or
/// pointwise (over the rows' elements, or over the rows alone), at least one
/// a reduction, none a matrix product; a later one
/// touches an earlier one's outputs (or writes its inputs) only at the same
/// loop point, so a block can take its rows through all of them in turn
/// (norms: statistics, then the normalised row). Empty when none qualify.
SmallVector<RowRunMember> matchRowRun(ArrayRef<linalg::GenericOp> groups, size_t first);

/// Emits, at `b`'s insertion point inside `kernel`, the run as one block
/// per point of its parallel loops (grid-stride), the members in turn
/// behind barriers. A member over the rows alone runs on thread 0. For a
/// reduction the block's threads take the row's
/// elements in turn, each folding its share into a partial, then combine
/// the partials as a tree in shared memory (workgroup attributions of
/// `kernel`); thread 0 folds the result into the output. A pointwise member
/// has each thread compute its elements of the row. Partial sums
/// reassociate the reduction, so results differ from the sequential order
/// by rounding. Returns the launch.
FailureOr<LaunchShape> buildRowKernel(OpBuilder &b, gpu::GPUFuncOp kernel,
                                      ArrayRef<RowRunMember> run, IRMapping &map,
                                      int64_t blockSize);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_ROWREDUCTIONKERNEL_H
