//===- TensorGradients.cpp - gradient rules of the upstream tensor ops ----===//
//
// The importer reshapes and slices with tensor ops; their rules are attached as
// external models so tetra-autodiff treats them like tetra ops.
//
//===----------------------------------------------------------------------===//
#include "tetra/Registration.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::tetra;

namespace {

struct ExpandShapeGradient
    : DifferentiableOpInterface::ExternalModel<ExpandShapeGradient, tensor::ExpandShapeOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto expand = llvm::cast<tensor::ExpandShapeOp>(op);
    operandGrads[0] = tensor::CollapseShapeOp::create(
        b, op->getLoc(), expand.getSrcType(), resultGrads[0],
        expand.getReassociationIndices());
    return success();
  }
};

struct CollapseShapeGradient
    : DifferentiableOpInterface::ExternalModel<CollapseShapeGradient,
                                               tensor::CollapseShapeOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    auto collapse = llvm::cast<tensor::CollapseShapeOp>(op);
    if (!collapse.getSrcType().hasStaticShape())
      return op->emitError("gradient of a dynamic collapse_shape is not supported");
    operandGrads[0] = tensor::ExpandShapeOp::create(
        b, op->getLoc(), collapse.getSrcType(), resultGrads[0],
        collapse.getReassociationIndices());
    return success();
  }
};

struct ExtractSliceGradient
    : DifferentiableOpInterface::ExternalModel<ExtractSliceGradient,
                                               tensor::ExtractSliceOp> {
  LogicalResult buildGradients(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) const {
    // The slice's gradient, placed into zeros the source's shape.
    auto slice = llvm::cast<tensor::ExtractSliceOp>(op);
    RankedTensorType source = slice.getSourceType();
    if (!source.hasStaticShape())
      return op->emitError("gradient of a dynamic extract_slice is not supported");
    Location loc = op->getLoc();
    Value zeros = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(source, b.getZeroAttr(source.getElementType())));
    operandGrads[0] = tensor::InsertSliceOp::create(
        b, loc, resultGrads[0], zeros, slice.getMixedOffsets(), slice.getMixedSizes(),
        slice.getMixedStrides());
    return success();
  }
};

/// Ops whose results are constants: nothing flows back.
template <typename OpTy>
struct ConstantGradient
    : DifferentiableOpInterface::ExternalModel<ConstantGradient<OpTy>, OpTy> {
  LogicalResult buildGradients(Operation *, OpBuilder &, ArrayRef<Value>,
                               SmallVectorImpl<Value> &) const {
    return success();
  }
};

} // namespace

void mlir::tetra::registerGradientModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<ExpandShapeGradient>(*ctx);
    tensor::CollapseShapeOp::attachInterface<CollapseShapeGradient>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceGradient>(*ctx);
    tensor::SplatOp::attachInterface<ConstantGradient<tensor::SplatOp>>(*ctx);
    tensor::DimOp::attachInterface<ConstantGradient<tensor::DimOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    arith::ConstantOp::attachInterface<ConstantGradient<arith::ConstantOp>>(*ctx);
  });
}
