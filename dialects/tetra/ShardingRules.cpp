//===- ShardingRules.cpp - how each tetra op is split over the 4D grid ----===//
//
// AxoNN's rules (ALGORITHMS.md section 1), op by op. Activations are
// [batch, ..., features] with samples split over data*z. A normal linear
// layer reads features split over x and writes them split over y; a
// transposed one the other way round; weights are split [out, in] over
// (y, x) -- (x, y) when transposed -- and their block once more over z,
// flattened. Norms and the loss keep their exact single-process values by
// reducing their statistics over the axis that splits the features.
//
//===----------------------------------------------------------------------===//
#include "Sharding.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// Checks that dimension `dim` of `value` is not split.
LogicalResult expectUnsplit(Operation *op, ShardingState &state, Value value,
                            unsigned dim, StringRef what) {
  LayoutAttr layout = state.getLayout(value);
  if (layout && !layout.getDimAxes(dim).empty())
    return op->emitOpError("cannot work on ")
           << what << " with dimension " << dim << " split over "
           << axesToString(layout.getDimAxes(dim));
  return success();
}

/// The single x or y axis (empty when it has one rank).
AxisList axis(ShardingState &state, GridAxis a) {
  return state.groupSize({a}) > 1 ? AxisList{a} : AxisList{};
}

} // namespace

LogicalResult tetra::inferLayoutsLikeFirstOperand(Operation *op, ShardingState &state) {
  LayoutAttr layout = state.getLayout(op->getOperand(0));
  if (!layout)
    return op->emitOpError("has no layout for its first operand");
  for (Value result : op->getResults())
    state.setLayout(result, layout);
  return success();
}

LogicalResult tetra::partitionInPlace(Operation *op, ShardingState &state) {
  state.localizeResults(op);
  return success();
}

//===--- parameters and lookups -------------------------------------------===//

LogicalResult GetParamOp::inferLayouts(ShardingState &) {
  return success(); // the parameter's users decide its layout
}

LogicalResult GetParamOp::partition(ShardingState &state, OpBuilder &) {
  ParamOp param = state.paramOf(getResult());
  getResult().setType(param.getLocalTensorType());
  return success();
}

LogicalResult EmbeddingOp::inferLayouts(ShardingState &state) {
  auto indices = getIndices().getType();
  if (failed(state.expectLayout(*this, getIndices(), state.activation(indices.getRank()),
                                "indices")))
    return failure();
  // Vocabulary over y, features over x, the block over z: the layout of
  // the LM head, so a tied table needs nothing else.
  LayoutAttr table = state.layout({{GridAxis::y}, {GridAxis::x}}, {GridAxis::z});
  if (failed(state.assignParam(*this, getTable(), table)))
    return failure();
  LayoutAttr result = state.activation(indices.getRank() + 1, {GridAxis::x});
  state.setLayout(getResult(), result);
  return success();
}

LogicalResult EmbeddingOp::partition(ShardingState &state, OpBuilder &b) {
  Location loc = getLoc();
  b.setInsertionPoint(*this);
  Value block = state.gatheredBlock(b, loc, getTable());
  AxisList vocabAxes = axis(state, GridAxis::y);
  auto local = EmbeddingOp::create(b, loc, block, getIndices(),
                                   state.axesAttrOrNull(vocabAxes));
  Value result = state.allReduce(b, loc, local, vocabAxes);
  getResult().replaceAllUsesWith(result);
  erase();
  return success();
}


LogicalResult GoldfishMaskOp::inferLayouts(ShardingState &state) {
  // The rule runs along each sample's sequence, which is never split.
  if (failed(expectUnsplit(*this, state, getTargets(),
                           getTargets().getType().getRank() - 1, "targets")))
    return failure();
  return inferLayoutsLikeFirstOperand(*this, state);
}

//===--- linear layers ------------------------------------------------------===//

LogicalResult LinearOp::inferLayouts(ShardingState &state) {
  bool t = getTransposed();
  // A normal layer reads features over x and writes them over y.
  AxisList in = axis(state, t ? GridAxis::y : GridAxis::x);
  AxisList out = axis(state, t ? GridAxis::x : GridAxis::y);
  LayoutAttr input = state.getLayout(getInput());
  unsigned rank = getInput().getType().getRank();
  if (!input)
    return emitOpError("has no layout for its input");
  if (failed(state.expectLayout(*this, getInput(), state.withDim(input, rank - 1, in),
                                t ? "input (a transposed layer reads features over y)"
                                  : "input (a normal layer reads features over x)")))
    return failure();
  AxisList rows = getWeightInOut() ? in : out, cols = getWeightInOut() ? out : in;
  LayoutAttr weight = state.layout({rows, cols}, {GridAxis::z});
  if (failed(state.assignParam(*this, getWeight(), weight)))
    return failure();
  if (getBias() && failed(state.assignParam(*this, getBias(), state.layout({out}))))
    return failure();
  LayoutAttr result = state.withDim(input, rank - 1, out);
  ParamOp param = state.paramOf(getWeight());
  if (failed(state.checkDivides(*this, "the result", getType(), result,
                                state.isVocab(param) ? std::optional<unsigned>(rank - 1)
                                                     : std::nullopt)))
    return failure();
  state.setLayout(getResult(), result);
  return success();
}

LogicalResult LinearOp::partition(ShardingState &state, OpBuilder &b) {
  bool t = getTransposed();
  AxisList in = axis(state, t ? GridAxis::y : GridAxis::x);
  AxisList out = axis(state, t ? GridAxis::x : GridAxis::y);
  Location loc = getLoc();
  b.setInsertionPoint(*this);
  // The input is replicated over the axes the output is split on: its
  // gradient is the sum of theirs.
  Value input = state.fanOut(b, loc, getInput(), out);
  Value weight = state.gatheredBlock(b, loc, getWeight());
  // With a partial sum over `in`, the bias joins after the all-reduce.
  bool reduce = state.groupSize(in) > 1;
  Value bias = reduce ? Value() : getBias();
  Value result = LinearOp::create(b, loc, input, weight, bias, getTransposedAttr(),
                                  getWeightInOutAttr());
  result = state.allReduce(b, loc, result, in);
  if (reduce && getBias())
    result = AddOp::create(b, loc, result, getBias());
  getResult().replaceAllUsesWith(result);
  erase();
  return success();
}

//===--- norms -------------------------------------------------------------===//

template <typename NormOp>
static LogicalResult normLayouts(NormOp op, ShardingState &state) {
  unsigned rank = op.getInput().getType().getRank();
  LayoutAttr expected = state.activation(rank, axis(state, GridAxis::x));
  if (failed(state.expectLayout(op, op.getInput(), expected, "input")))
    return failure();
  LayoutAttr features = state.layout({axis(state, GridAxis::x)});
  for (Value param : op->getOperands().drop_front())
    if (failed(state.assignParam(op, param, features)))
      return failure();
  state.setLayout(op.getResult(), expected);
  return success();
}

template <typename NormOp>
static LogicalResult normPartition(NormOp op, ShardingState &state) {
  state.localizeResults(op);
  op.setStatAxesAttr(state.axesAttrOrNull(axis(state, GridAxis::x)));
  return success();
}

LogicalResult RMSNormOp::inferLayouts(ShardingState &state) {
  return normLayouts(*this, state);
}
LogicalResult RMSNormOp::partition(ShardingState &state, OpBuilder &) {
  return normPartition(*this, state);
}
LogicalResult LayerNormOp::inferLayouts(ShardingState &state) {
  return normLayouts(*this, state);
}
LogicalResult LayerNormOp::partition(ShardingState &state, OpBuilder &) {
  return normPartition(*this, state);
}

//===--- elementwise (gelu, silu, scale, positions use the defaults) ------===//

LogicalResult GluOp::inferLayouts(ShardingState &state) {
  if (failed(state.expectLayout(*this, getUp(), state.getLayout(getGate()),
                                "up projection (as the gate)")))
    return failure();
  return inferLayoutsLikeFirstOperand(*this, state);
}

LogicalResult RotaryOp::inferLayouts(ShardingState &state) {
  if (failed(expectUnsplit(*this, state, getInput(), 3, "channels")) ||
      failed(expectUnsplit(*this, state, getInput(), 1, "the sequence")))
    return failure();
  return inferLayoutsLikeFirstOperand(*this, state);
}

LogicalResult AddOp::inferLayouts(ShardingState &state) {
  LayoutAttr lhs = state.getLayout(getLhs());
  if (!lhs)
    return emitOpError("has no layout for its left operand");
  unsigned rank = lhs.getRank(), rhsRank = getRhs().getType().getRank();
  // A broadcast right-hand side is laid out as the suffix it matches.
  SmallVector<AxisList> dims;
  for (unsigned d = rank - rhsRank; d < rank; ++d) {
    SmallVector<GridAxis> axes = lhs.getDimAxes(d);
    dims.push_back(AxisList(axes.begin(), axes.end()));
  }
  LayoutAttr rhs = state.layout(dims);
  if (state.paramOf(getRhs()) && !state.getLayout(getRhs())) {
    if (failed(state.assignParam(*this, getRhs(), rhs)))
      return failure();
  } else if (failed(state.expectLayout(*this, getRhs(), rhs, "right operand"))) {
    return failure();
  }
  state.setLayout(getResult(), lhs);
  return success();
}

//===--- attention and loss ----------------------------------------------===//

LogicalResult AttentionOp::inferLayouts(ShardingState &state) {
  // Heads over y; batch over data*z; sequence and channels whole.
  LayoutAttr query = state.getLayout(getQuery());
  if (!query)
    return emitOpError("has no layout for its query");
  for (unsigned d : {1u, 3u})
    if (failed(expectUnsplit(*this, state, getQuery(), d, "the query")))
      return failure();
  if (failed(state.expectLayout(*this, getKey(), query, "key (as the query)")) ||
      failed(state.expectLayout(*this, getValue(), query, "value (as the query)")))
    return failure();
  state.setLayout(getResult(), query);
  return success();
}

LogicalResult CrossEntropyOp::inferLayouts(ShardingState &state) {
  unsigned rank = getLogits().getType().getRank();
  if (failed(state.expectLayout(*this, getLogits(),
                                state.activation(rank, axis(state, GridAxis::y)),
                                "logits (vocabulary over y)")) ||
      failed(state.expectLayout(*this, getTargets(), state.activation(rank - 1),
                                "targets")))
    return failure();
  // The real vocabulary: the logits' columns past it are padding once split.
  if (state.groupSize({GridAxis::y}) > 1)
    setVocabSizeAttr(OpBuilder(getContext()).getI64IntegerAttr(
        getLogits().getType().getShape().back()));
  state.setLayout(getResult(), state.layout({}));
  return success();
}

LogicalResult CrossEntropyOp::partition(ShardingState &state, OpBuilder &) {
  AxisList vocab = axis(state, GridAxis::y);
  AxisList rows;
  for (GridAxis a : {GridAxis::data, GridAxis::z})
    if (state.groupSize({a}) > 1)
      rows.push_back(a);
  if (!vocab.empty())
    setVocabAxesAttr(state.axesAttr(vocab));
  if (!rows.empty())
    setRowAxesAttr(state.axesAttr(rows));
  return success(); // the logits' type became local with its producer
}
