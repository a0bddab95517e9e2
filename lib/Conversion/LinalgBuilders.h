//===- LinalgBuilders.h - building blocks of the tetra lowerings -----------===//
#ifndef TETRA_CONVERSION_LINALGBUILDERS_H
#define TETRA_CONVERSION_LINALGBUILDERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tetra/TetraOps.h"

namespace mlir::tetra {

using utils::IteratorType;
using BodyFn = function_ref<void(OpBuilder &, Location, ValueRange)>;

Value constantFloat(OpBuilder &b, Location loc, Type type, double value);
Value constantIndex(OpBuilder &b, Location loc, int64_t value);
/// A tensor of `type` filled with `value`.
Value filled(OpBuilder &b, Location loc, RankedTensorType type, double value);
Value empty(OpBuilder &b, Location loc, RankedTensorType type);
AffineMap identity(MLIRContext *ctx, unsigned rank);
/// (d0, ..., d{rank-1}) -> (d{first}, ..., d{rank-1}): a trailing-dims broadcast.
AffineMap suffix(MLIRContext *ctx, unsigned rank, unsigned first);
/// (d0, ..., d{rank-1}) -> (d0, ..., d{rank-2}): the row of a last-dim reduction.
AffineMap dropLast(MLIRContext *ctx, unsigned rank);
AffineMap dims(MLIRContext *ctx, unsigned rank, ArrayRef<AffineExpr> exprs);
SmallVector<IteratorType> parallel(unsigned rank);
/// Parallel over all but the last dim, which is reduced.
SmallVector<IteratorType> reduceLast(unsigned rank);
/// Reduced over all but the last `kept` dims, which stay parallel.
SmallVector<IteratorType> reduceLeading(unsigned rank, unsigned kept);
Value generic(OpBuilder &b, Location loc, Type result, ValueRange inputs, Value output,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators, BodyFn body);
RankedTensorType withoutLast(RankedTensorType type);
/// Sum over the last dimension of f(x) (f given on the scalar).
Value reduceSumLast(OpBuilder &b, Location loc, Value x,
                    function_ref<Value(OpBuilder &, Location, Value)> f);
/// Sum over the leading dimensions of `x` down to `result` (a suffix shape).
Value reduceSumLeading(OpBuilder &b, Location loc, Value x, RankedTensorType result);
Value indexValue(OpBuilder &b, Location loc, Value integer);
/// Collapses all leading dimensions into one: [..., N] -> [M, N].
Value flattenRows(OpBuilder &b, Location loc, Value x);
/// Collapses every dimension into one: [...] -> [M].
Value flattenAll(OpBuilder &b, Location loc, Value x);
/// Per row of [M, V] logits: the maximum and sum(exp(logit - maximum)), the
/// two halves of a stable logsumexp.
/// How the columns of [rows, V] logits are split over the grid: the global
/// index of the first local column, the real vocabulary (columns at or past it
/// are padding) and the axes the vocabulary is split over. Default: whole.
struct VocabShard {
  Value offset;                  // index; null when the vocabulary is whole
  std::optional<int64_t> vocabSize;
  DenseI32ArrayAttr axes;
  /// True for a column (global index `globalCol`, an index) that is real.
  Value isReal(OpBuilder &b, Location loc, Value globalCol) const;
  /// The global index of local column `col`.
  Value global(OpBuilder &b, Location loc, Value col) const;
};
/// An id's place in a shard of `size` rows starting at `offset` (null: at 0):
/// the local index (0 when outside, so it can still be read) and whether it
/// is inside. Negative ids are outside.
std::pair<Value, Value> localIndex(OpBuilder &b, Location loc, Value id, Value offset,
                                   int64_t size);
/// The split of `op`'s logits from its vocab_axes / vocab_size.
VocabShard vocabShard(OpBuilder &b, Location loc, Operation *op, DenseI32ArrayAttr axes,
                      IntegerAttr vocabSize, int64_t localColumns);
/// Marks a row reduction whose outputs 0 and 1 are an online log-sum-exp's
/// running maximum m and sum s of exp(x - m): partials combine as
/// (max(m1, m2), rescaledSum(s1, m1, M) + rescaledSum(s2, m2, M)).
constexpr llvm::StringLiteral kOnlineLogSumExpAttr = "tetra.online_logsumexp";
/// sum * exp(max - newMax): a sum of exponentials relative to `max`, made
/// relative to `newMax` (>= max).
Value rescaledSum(OpBuilder &b, Location loc, Value sum, Value max, Value newMax);
/// Per row of [rows, V] logits, over the whole (possibly split)
/// vocabulary: the maximum, the sum of exp(logit - max) and, with
/// `targets`, the logit of the row's target.
struct RowLogSumExp {
  Value max, sumExp, picked;
};
/// One pass over the logits (an online log-sum-exp: the sum is rescaled
/// whenever the maximum grows), the target's logit picked on the way; over
/// a split vocabulary, the shards' partials combined by all-reduces.
RowLogSumExp rowLogSumExp(OpBuilder &b, Location loc, Value logits, const VocabShard &shard = {},
                          Value targets = {});
/// A tetra.all_reduce of `value` over `axes`; `value` itself when null.
Value reduceOver(OpBuilder &b, Location loc, Value value, DenseI32ArrayAttr axes,
                 ReduceKind kind = ReduceKind::sum);
/// Number of ranks in the group over `axes` of `op`'s grid (1 when null).
int64_t groupSize(Operation *op, DenseI32ArrayAttr axes);
/// This rank's index (an index value) in its group over `axes`, outermost
/// first, from the runtime's grid coordinates.
Value shardIndex(OpBuilder &b, Location loc, Operation *op, ArrayRef<int32_t> axes);
/// A function of the runtime (or a library) declared in `module` on first use.
func::FuncOp runtimeFunction(ModuleOp module, StringRef name, TypeRange inputs,
                             TypeRange results, bool cInterface = true);
/// Scalar formulas of the activations and their derivatives.
Value geluScalar(OpBuilder &b, Location loc, Value x, bool tanhApprox);
Value geluDerivative(OpBuilder &b, Location loc, Value x, bool tanhApprox);
Value siluScalar(OpBuilder &b, Location loc, Value x);
Value siluDerivative(OpBuilder &b, Location loc, Value x);

/// C += A' B' on 2-D tensors, A' = A or A^T, B' = B or B^T: a contraction
/// that convert-contractions-to-blas turns into one sgemm.
Value gemm2D(OpBuilder &b, Location loc, Value a, bool transA, Value bb, bool transB, Value c);

/// One 2-D slice of `tensor` with `dims` (two entries) kept and the others
/// fixed at `at` (index values, one per other dimension, in order).
Value slice2D(OpBuilder &b, Location loc, Value tensor, ArrayRef<unsigned> dims,
              ArrayRef<Value> at);
/// Writes a 2-D `piece` back into `tensor` (the inverse of slice2D).
Value insert2D(OpBuilder &b, Location loc, Value piece, Value tensor,
               ArrayRef<unsigned> dims, ArrayRef<Value> at);

/// For every batch index and head: acc = body(batch, head, acc), from `init`
/// (scf.for loops over tensors, updated in place after bufferization).
Value forEachHead(OpBuilder &b, Location loc, int64_t batch, int64_t heads, Value init,
                  function_ref<Value(OpBuilder &, Location, Value, Value, Value)> body);

/// 1.0 where a target counts in the loss, 0.0 where it is `ignore` or the
/// goldfish mask drops it (ALGORITHMS.md section 3; the last dimension of
/// `targets` is the sequence). Same shape as `targets`, element type `f`.
/// The `table` rule reads its table file now (an error on `op` names it when
/// it cannot be read or has the wrong size).
FailureOr<Value> keptMask(OpBuilder &b, Location loc, Operation *op, Value targets,
                          std::optional<int64_t> ignore, GoldfishAttr goldfish, Type f);
/// Entries of a goldfish table file: raw little-endian f32.
inline constexpr int64_t kGoldfishTableSize = 1000003;

/// Normalised attention probabilities [B, Hq, S, T] (0 where masked).
Value attentionProbabilities(OpBuilder &b, Location loc, Value query, Value key,
                             bool causal, std::optional<int64_t> window,
                             std::optional<double> scale,
                             Value queryPosition = Value());
/// 1/sqrt(head_dim) unless given.
double attentionScale(Value query, std::optional<double> scale);

/// Patterns of the forward ops and of the gradient ops.
void populateForwardLoweringPatterns(RewritePatternSet &patterns);
void populateGradientLoweringPatterns(RewritePatternSet &patterns);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_LINALGBUILDERS_H
