//===- TensorShardingRules.cpp - sharding rules of the upstream tensor ops ===//
//
// The importer splits heads with expand_shape/collapse_shape and fused
// projections with extract_slice; their rules are external models of
// ShardableOpInterface, like their gradients.
//
//===----------------------------------------------------------------------===//
#include "tetra/Registration.h"
#include "tetra/Sharding.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// The op, rebuilt on local shapes as `local`, replaces the original.
LogicalResult replaceBy(Operation *op, Value local) {
  op->getResult(0).replaceAllUsesWith(local);
  op->erase();
  return success();
}

/// The layout tetra-shard gave `value`, or an error on `op` naming `what`.
FailureOr<LayoutAttr> layoutOf(Operation *op, ShardingState &state, Value value,
                               StringRef what) {
  if (LayoutAttr layout = state.getLayout(value))
    return layout;
  return op->emitOpError("has no layout for its ") << what;
}

AxisList axesOf(LayoutAttr layout, unsigned dim) {
  SmallVector<GridAxis> axes = layout.getDimAxes(dim);
  return AxisList(axes.begin(), axes.end());
}

/// [B, S, heads*D] -> [B, S, heads, D]: a group's split goes to its
/// outermost dimension (the heads).
struct ExpandShapeSharding
    : ShardableOpInterface::ExternalModel<ExpandShapeSharding, tensor::ExpandShapeOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto expand = llvm::cast<tensor::ExpandShapeOp>(op);
    FailureOr<LayoutAttr> srcOrError = layoutOf(op, state, expand.getSrc(), "source");
    if (failed(srcOrError))
      return failure();
    LayoutAttr src = *srcOrError;
    SmallVector<AxisList> dims(expand.getResultType().getRank());
    for (auto [d, group] : llvm::enumerate(expand.getReassociationIndices()))
      dims[group.front()] = axesOf(src, d);
    LayoutAttr result = state.layout(dims);
    if (failed(state.checkDivides(op, "the result", expand.getResultType(), result)))
      return failure();
    state.setLayout(expand.getResult(), result);
    return success();
  }
  LogicalResult partition(Operation *op, ShardingState &state, OpBuilder &b) const {
    auto expand = llvm::cast<tensor::ExpandShapeOp>(op);
    b.setInsertionPoint(op);
    RankedTensorType local =
        state.localType(expand.getResultType(), state.getLayout(expand.getResult()));
    Value result = tensor::ExpandShapeOp::create(b, op->getLoc(), local, expand.getSrc(),
                                                 expand.getReassociationIndices());
    return replaceBy(op, result);
  }
};

/// [B, S, heads, D] -> [B, S, heads*D]: only a group's outermost dimension
/// may be split.
struct CollapseShapeSharding
    : ShardableOpInterface::ExternalModel<CollapseShapeSharding, tensor::CollapseShapeOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto collapse = llvm::cast<tensor::CollapseShapeOp>(op);
    FailureOr<LayoutAttr> srcOrError = layoutOf(op, state, collapse.getSrc(), "source");
    if (failed(srcOrError))
      return failure();
    LayoutAttr src = *srcOrError;
    SmallVector<AxisList> dims;
    for (ReassociationIndices group : collapse.getReassociationIndices()) {
      for (int64_t inner : ArrayRef<int64_t>(group).drop_front())
        if (!src.getDimAxes(inner).empty())
          return op->emitOpError("cannot merge dimension ")
                 << inner << ", split over " << axesToString(src.getDimAxes(inner))
                 << ", into an outer one";
      dims.push_back(axesOf(src, group.front()));
    }
    state.setLayout(collapse.getResult(), state.layout(dims));
    return success();
  }
  LogicalResult partition(Operation *op, ShardingState &state, OpBuilder &b) const {
    auto collapse = llvm::cast<tensor::CollapseShapeOp>(op);
    b.setInsertionPoint(op);
    Value result = tensor::CollapseShapeOp::create(b, op->getLoc(), collapse.getSrc(),
                                                   collapse.getReassociationIndices());
    return replaceBy(op, result);
  }
};

/// Slices of dimensions that are not split (the q/k/v thirds of a fused
/// projection can only be taken while its output features are whole).
struct ExtractSliceSharding
    : ShardableOpInterface::ExternalModel<ExtractSliceSharding, tensor::ExtractSliceOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto slice = llvm::cast<tensor::ExtractSliceOp>(op);
    FailureOr<LayoutAttr> srcOrError = layoutOf(op, state, slice.getSource(), "source");
    if (failed(srcOrError))
      return failure();
    LayoutAttr src = *srcOrError;
    RankedTensorType srcType = slice.getSourceType();
    if (slice.getResultType().getRank() != srcType.getRank() || !slice.hasUnitStride())
      return op->emitOpError("can be sharded only without rank reduction or strides");
    for (unsigned d = 0; d < src.getRank(); ++d) {
      std::optional<int64_t> offset = getConstantIntValue(slice.getMixedOffsets()[d]);
      bool whole = offset == 0 && slice.getResultType().getDimSize(d) == srcType.getDimSize(d);
      if (!whole && !src.getDimAxes(d).empty())
        return op->emitOpError("slices dimension ")
               << d << " (size " << srcType.getDimSize(d) << "), which is split over "
               << axesToString(src.getDimAxes(d))
               << "; a fused projection cannot be split over that axis";
    }
    state.setLayout(slice.getResult(), src);
    return success();
  }
  LogicalResult partition(Operation *op, ShardingState &state, OpBuilder &b) const {
    auto slice = llvm::cast<tensor::ExtractSliceOp>(op);
    b.setInsertionPoint(op);
    auto srcType = llvm::cast<RankedTensorType>(slice.getSource().getType());
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    LayoutAttr layout = state.getLayout(slice.getResult());
    for (unsigned d = 0; d < sizes.size(); ++d)
      if (!layout.getDimAxes(d).empty())
        sizes[d] = b.getIndexAttr(srcType.getDimSize(d));
    Value result = tensor::ExtractSliceOp::create(b, op->getLoc(), slice.getSource(),
                                                  slice.getMixedOffsets(), sizes,
                                                  slice.getMixedStrides());
    return replaceBy(op, result);
  }
};

/// A tensor of one repeated value ([B, 1] positions while decoding): laid
/// out as an activation, samples over data*z.
struct SplatSharding
    : ShardableOpInterface::ExternalModel<SplatSharding, tensor::SplatOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto splat = llvm::cast<tensor::SplatOp>(op);
    LayoutAttr layout = state.activation(splat.getType().getRank());
    if (failed(state.checkDivides(op, "the result", splat.getType(), layout)))
      return failure();
    state.setLayout(splat.getResult(), layout);
    return success();
  }
  LogicalResult partition(Operation *op, ShardingState &state, OpBuilder &b) const {
    auto splat = llvm::cast<tensor::SplatOp>(op);
    b.setInsertionPoint(op);
    Value result = tensor::SplatOp::create(
        b, op->getLoc(), splat.getInput(),
        state.localType(splat.getType(), state.getLayout(splat.getResult())));
    return replaceBy(op, result);
  }
};

/// Writing a slice into a tensor laid out the same way (a KV cache row):
/// split dimensions must be written whole.
struct InsertSliceSharding
    : ShardableOpInterface::ExternalModel<InsertSliceSharding, tensor::InsertSliceOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto insert = llvm::cast<tensor::InsertSliceOp>(op);
    FailureOr<LayoutAttr> destOrError = layoutOf(op, state, insert.getDest(), "destination");
    if (failed(destOrError))
      return failure();
    LayoutAttr dest = *destOrError;
    if (failed(state.expectLayout(op, insert.getSource(), dest,
                                  "source (as the destination)")))
      return failure();
    RankedTensorType destType = insert.getDestType();
    for (unsigned d = 0; d < dest.getRank(); ++d) {
      if (dest.getDimAxes(d).empty())
        continue;
      std::optional<int64_t> offset = getConstantIntValue(insert.getMixedOffsets()[d]);
      if (offset != 0 || insert.getSourceType().getDimSize(d) != destType.getDimSize(d))
        return op->emitOpError("writes part of dimension ")
               << d << " (size " << destType.getDimSize(d) << "), which is split over "
               << axesToString(dest.getDimAxes(d));
    }
    state.setLayout(insert.getResult(), dest);
    return success();
  }
  LogicalResult partition(Operation *op, ShardingState &state, OpBuilder &b) const {
    auto insert = llvm::cast<tensor::InsertSliceOp>(op);
    b.setInsertionPoint(op);
    auto source = llvm::cast<RankedTensorType>(insert.getSource().getType());
    SmallVector<OpFoldResult> sizes = insert.getMixedSizes();
    LayoutAttr layout = state.getLayout(insert.getResult());
    for (unsigned d = 0; d < sizes.size(); ++d)
      if (!layout.getDimAxes(d).empty())
        sizes[d] = b.getIndexAttr(source.getDimSize(d));
    Value result = tensor::InsertSliceOp::create(b, op->getLoc(), insert.getSource(),
                                                 insert.getDest(), insert.getMixedOffsets(),
                                                 sizes, insert.getMixedStrides());
    return replaceBy(op, result);
  }
};

} // namespace

void mlir::tetra::registerShardingModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<ExpandShapeSharding>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeSharding>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceSharding>(*ctx);
    tensor::SplatOp::attachInterface<SplatSharding>(*ctx);
    tensor::InsertSliceOp::attachInterface<InsertSliceSharding>(*ctx);
  });
}
