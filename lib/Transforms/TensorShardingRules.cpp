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
    LayoutAttr src = state.getLayout(expand.getSrc());
    if (!src)
      return op->emitOpError("has no layout for its source");
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
    expand.getResult().replaceAllUsesWith(result);
    op->erase();
    return success();
  }
};

/// [B, S, heads, D] -> [B, S, heads*D]: only a group's outermost dimension
/// may be split.
struct CollapseShapeSharding
    : ShardableOpInterface::ExternalModel<CollapseShapeSharding, tensor::CollapseShapeOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto collapse = llvm::cast<tensor::CollapseShapeOp>(op);
    LayoutAttr src = state.getLayout(collapse.getSrc());
    if (!src)
      return op->emitOpError("has no layout for its source");
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
    collapse.getResult().replaceAllUsesWith(result);
    op->erase();
    return success();
  }
};

/// Slices of dimensions that are not split (the q/k/v thirds of a fused
/// projection can only be taken while its output features are whole).
struct ExtractSliceSharding
    : ShardableOpInterface::ExternalModel<ExtractSliceSharding, tensor::ExtractSliceOp> {
  LogicalResult inferLayouts(Operation *op, ShardingState &state) const {
    auto slice = llvm::cast<tensor::ExtractSliceOp>(op);
    LayoutAttr src = state.getLayout(slice.getSource());
    if (!src)
      return op->emitOpError("has no layout for its source");
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
    slice.getResult().replaceAllUsesWith(result);
    op->erase();
    return success();
  }
};

} // namespace

void mlir::tetra::registerShardingModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<ExpandShapeSharding>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeSharding>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceSharding>(*ctx);
  });
}
