//===- Sharding.cpp - layouts, parameter assignment and collective helpers ===//
#include "Sharding.h"
#include "AxisSyntax.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::tetra;

std::string tetra::axesToString(ArrayRef<GridAxis> axes) {
  if (axes.empty())
    return "nothing";
  std::string s;
  for (GridAxis a : axes) {
    if (!s.empty())
      s += "*";
    s += axisName(static_cast<int32_t>(a)).str();
  }
  return s;
}

bool tetra::isReplicatedScalarOp(Operation *op) {
  auto shaped = [](Type t) { return llvm::isa<ShapedType>(t); };
  return !llvm::isa<ShardableOpInterface>(op) && llvm::none_of(op->getResultTypes(), shaped) &&
         llvm::none_of(op->getOperandTypes(), shaped);
}

AxisList tetra::lastAxes(LayoutAttr layout) {
  if (!layout || layout.getRank() == 0)
    return {};
  SmallVector<GridAxis> axes = layout.getDimAxes(layout.getRank() - 1);
  return AxisList(axes.begin(), axes.end());
}

static DenseI32ArrayAttr toAttr(MLIRContext *ctx, ArrayRef<GridAxis> axes) {
  SmallVector<int32_t> raw;
  for (GridAxis a : axes)
    raw.push_back(static_cast<int32_t>(a));
  return DenseI32ArrayAttr::get(ctx, raw);
}

LayoutAttr ShardingState::layout(ArrayRef<AxisList> dims, ArrayRef<GridAxis> flat) const {
  MLIRContext *ctx = getContext();
  auto real = [&](ArrayRef<GridAxis> axes) {
    AxisList kept;
    for (GridAxis a : axes)
      if (grid.getSize(a) > 1)
        kept.push_back(a);
    return kept;
  };
  SmallVector<Attribute> dimAttrs;
  for (const AxisList &axes : dims)
    dimAttrs.push_back(toAttr(ctx, real(axes)));
  return LayoutAttr::get(ctx, ArrayAttr::get(ctx, dimAttrs), toAttr(ctx, real(flat)),
                         toAttr(ctx, {}));
}

LayoutAttr ShardingState::activation(unsigned rank, ArrayRef<GridAxis> last) const {
  SmallVector<AxisList> dims(rank);
  if (rank > 0)
    dims[0] = {GridAxis::data, GridAxis::z};
  if (rank > 1)
    dims[rank - 1] = AxisList(last.begin(), last.end());
  return layout(dims);
}

LayoutAttr ShardingState::withDim(LayoutAttr base, unsigned dim,
                                  ArrayRef<GridAxis> axes) const {
  SmallVector<AxisList> dims;
  for (unsigned i = 0; i < base.getRank(); ++i) {
    SmallVector<GridAxis> a = base.getDimAxes(i);
    dims.push_back(AxisList(a.begin(), a.end()));
  }
  dims[dim] = AxisList(axes.begin(), axes.end());
  return layout(dims, base.getFlatAxes());
}

ParamOp ShardingState::paramOf(Value value) const {
  auto get = value.getDefiningOp<GetParamOp>();
  if (!get)
    return {};
  return SymbolTable::lookupNearestSymbolFrom<ParamOp>(get, get.getNameAttr());
}

LogicalResult ShardingState::checkDivides(Operation *op, StringRef what, ShapedType type,
                                          LayoutAttr layout,
                                          std::optional<unsigned> paddedDim) const {
  int64_t block = 1;
  for (unsigned d = 0; d < layout.getRank(); ++d) {
    SmallVector<GridAxis> axes = layout.getDimAxes(d);
    int64_t size = type.getDimSize(d), group = groupSize(axes);
    if (size % group != 0 && paddedDim != d)
      return op->emitOpError("cannot split dimension ")
             << d << " of " << what << " (size " << size << ") over "
             << axesToString(axes) << " (" << group << " ranks)";
    block *= (size + group - 1) / group;
  }
  SmallVector<GridAxis> flat = layout.getFlatAxes();
  if (block % groupSize(flat) != 0)
    return op->emitOpError("cannot split the ")
           << block << " elements of a rank's block of " << what << " over "
           << axesToString(flat) << " (" << groupSize(flat) << " ranks)";
  return success();
}

LogicalResult ShardingState::assignParam(Operation *user, Value value, LayoutAttr layout) {
  ParamOp param = paramOf(value);
  if (!param)
    return user->emitOpError("expects a parameter (tetra.get_param) here to shard it");
  std::string what = ("parameter '" + param.getSymName() + "'").str();
  if (std::optional<LayoutAttr> old = param.getLayout()) {
    if (*old != layout)
      return user->emitOpError("needs ")
             << what << " laid out as " << layout << " but another use set " << *old;
  } else {
    if (failed(checkDivides(user, what, param.getTensorType(), layout,
                            isVocab(param) ? std::optional<unsigned>(0) : std::nullopt)))
      return failure();
    param.setLayoutAttr(layout);
  }
  setLayout(value, layout);
  return success();
}

LogicalResult ShardingState::expectLayout(Operation *op, Value operand, LayoutAttr expected,
                                          StringRef what) const {
  LayoutAttr actual = getLayout(operand);
  if (!actual)
    return op->emitOpError("has no layout for its ") << what;
  if (actual != expected)
    return op->emitOpError("needs its ")
           << what << " laid out as " << expected << ", got " << actual
           << " (no rule redistributes it)";
  return success();
}

RankedTensorType ShardingState::localType(RankedTensorType global, LayoutAttr layout) const {
  if (!layout)
    return global;
  SmallVector<int64_t> shape;
  for (unsigned d = 0; d < layout.getRank(); ++d) {
    int64_t group = groupSize(layout.getDimAxes(d));
    shape.push_back((global.getDimSize(d) + group - 1) / group);
  }
  if (!layout.getFlat().empty()) {
    int64_t elements = 1;
    for (int64_t s : shape)
      elements *= s;
    shape = {elements / groupSize(layout.getFlatAxes())};
  }
  return RankedTensorType::get(shape, global.getElementType());
}

DenseI32ArrayAttr ShardingState::axesAttr(ArrayRef<GridAxis> axes) const {
  return toAttr(getContext(), axes);
}

Value ShardingState::fanOut(OpBuilder &b, Location loc, Value value,
                            ArrayRef<GridAxis> axes) const {
  if (groupSize(axes) == 1)
    return value;
  Value &shared = fanOuts[{value, axesAttr(axes)}];
  if (!shared)
    shared = FanOutOp::create(b, loc, value.getType(), value, axesAttr(axes));
  return shared;
}

Value ShardingState::allReduce(OpBuilder &b, Location loc, Value value,
                               ArrayRef<GridAxis> axes) const {
  if (groupSize(axes) == 1)
    return value;
  return AllReduceOp::create(b, loc, value.getType(), value, axesAttr(axes),
                             ReduceKindAttr::get(getContext(), ReduceKind::sum));
}

Value ShardingState::gatheredBlock(OpBuilder &b, Location loc, Value shard) const {
  ParamOp param = paramOf(shard);
  if (!param || !param.getLayout() || param.getLayout()->getFlat().empty())
    return shard;
  LayoutAttr layout = *param.getLayout();
  SmallVector<GridAxis> flat = layout.getFlatAxes();
  // The block before flattening: the same layout without its flat axes.
  MLIRContext *ctx = getContext();
  RankedTensorType block = localType(
      param.getTensorType(),
      LayoutAttr::get(ctx, layout.getDims(), toAttr(ctx, {}), toAttr(ctx, {})));
  auto flatType = RankedTensorType::get({block.getNumElements()}, block.getElementType());
  Value gathered = AllGatherOp::create(b, loc, flatType, shard, axesAttr(flat),
                                       b.getI64IntegerAttr(0));
  SmallVector<ReassociationIndices> all{llvm::to_vector(llvm::seq<int64_t>(0, block.getRank()))};
  return tensor::ExpandShapeOp::create(b, loc, block, gathered, all);
}

void ShardingState::localizeResults(Operation *op) const {
  for (Value result : op->getResults())
    if (auto type = llvm::dyn_cast<RankedTensorType>(result.getType()))
      result.setType(localType(type, getLayout(result)));
}
