//===- Differentiation.cpp - vector-Jacobian products of the tetra ops ----===//
//
// Each op's DifferentiableOpInterface: the backward of a linear layer is two
// linear-algebra ops (dX = dY W, dW = dY^T X) and a sum for the bias; norms,
// activations, attention and the loss have dedicated *_grad ops that the CPU
// lowering implements.
//
//===----------------------------------------------------------------------===//
#include "tetra/TetraOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::tetra;

LogicalResult EmbeddingOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = EmbeddingGradOp::create(b, getLoc(), getTable().getType(),
                                            resultGrads[0], getIndices(), getVocabAxesAttr());
  return success();
}

LogicalResult RotaryOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  // A rotation's transpose is the rotation by the opposite angle.
  operandGrads[0] = RotaryOp::create(b, getLoc(), resultGrads[0], getPositions(),
                                     getBaseAttr(), getFractionAttr(), getStyleAttr(),
                                     getInverse() ? UnitAttr() : b.getUnitAttr());
  return success();
}

LogicalResult LinearOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  Value grad = resultGrads[0];
  Location loc = getLoc();
  // dX = dY W: the same weight read with the other storage order.
  operandGrads[0] = LinearOp::create(b, loc, grad, getWeight(), Value(), UnitAttr(),
                                     getWeightInOut() ? UnitAttr() : b.getUnitAttr());
  operandGrads[1] = LinearWeightGradOp::create(b, loc, getWeight().getType(), getInput(),
                                               grad, getWeightInOutAttr());
  if (Value bias = getBias())
    operandGrads[2] = SumLeadingOp::create(b, loc, bias.getType(), grad);
  return success();
}

LogicalResult RMSNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  auto grad = RMSNormGradOp::create(b, getLoc(), getInput(), getWeight(), resultGrads[0],
                                    getEpsAttr(), getUnitOffsetAttr(), getStatAxesAttr());
  operandGrads[0] = grad.getInputGrad();
  operandGrads[1] = grad.getWeightGrad();
  return success();
}

LogicalResult LayerNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  auto grad = LayerNormGradOp::create(b, getLoc(), getInput(), getWeight(),
                                      resultGrads[0], getEpsAttr(), getStatAxesAttr());
  operandGrads[0] = grad.getInputGrad();
  operandGrads[1] = grad.getWeightGrad();
  if (getBias())
    operandGrads[2] = grad.getBiasGrad();
  return success();
}

LogicalResult GeluOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = GeluGradOp::create(b, getLoc(), getInput(), resultGrads[0],
                                       getApproximateAttr());
  return success();
}

LogicalResult SiluOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = SiluGradOp::create(b, getLoc(), getInput(), resultGrads[0]);
  return success();
}

LogicalResult GluOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto grad = GluGradOp::create(b, getLoc(), getGate(), getUp(), resultGrads[0],
                                getActivationAttr());
  operandGrads[0] = grad.getGateGrad();
  operandGrads[1] = grad.getUpGrad();
  return success();
}

LogicalResult AddOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  Value grad = resultGrads[0];
  operandGrads[0] = grad;
  operandGrads[1] = getRhs().getType() == grad.getType()
                        ? grad
                        : Value(SumLeadingOp::create(b, getLoc(), getRhs().getType(), grad));
  return success();
}

LogicalResult ScaleOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = ScaleOp::create(b, getLoc(), resultGrads[0], getFactorAttr());
  return success();
}

LogicalResult AttentionOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  if (getLoki())
    return emitOpError("Loki attention is an inference method and has no gradient");
  if (getQueryPosition())
    return emitOpError("attention over a KV cache is for decoding and has no gradient");
  auto grad = AttentionGradOp::create(b, getLoc(), getQuery(), getKey(), getValue(),
                                      resultGrads[0], getCausalAttr(), getWindowAttr(),
                                      getScaleAttr());
  operandGrads[0] = grad.getQueryGrad();
  operandGrads[1] = grad.getKeyGrad();
  operandGrads[2] = grad.getValueGrad();
  return success();
}

LogicalResult CrossEntropyOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                             SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = CrossEntropyGradOp::create(b, getLoc(), getLogits(), getTargets(),
                                               resultGrads[0], getIgnoreIndexAttr(),
                                               getGoldfishAttr(), getVocabAxesAttr(),
                                               getVocabSizeAttr(), getRowAxesAttr());
  return success();
}

//===--- collectives --------------------------------------------------------===//
// Tensor parallelism's convention: ranks that hold a replicated value compute
// the same loss from it, which counts once. So a sum's gradient passes through
// (all_reduce), a replicated input's gradient is summed (fan_out), and a
// gathered shard's gradient is the reduce-scatter of the gathered gradients.

static ReduceKindAttr sumKind(OpBuilder &b) {
  return ReduceKindAttr::get(b.getContext(), ReduceKind::sum);
}

LogicalResult AllGatherOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = ReduceScatterOp::create(b, getLoc(), getInput().getType(),
                                            resultGrads[0], getAxesAttr(), getDimAttr(),
                                            sumKind(b));
  return success();
}

LogicalResult ReduceScatterOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                              SmallVectorImpl<Value> &operandGrads) {
  if (getKind() != ReduceKind::sum)
    return emitOpError("has a gradient only as a sum");
  operandGrads[0] = AllGatherOp::create(b, getLoc(), getInput().getType(), resultGrads[0],
                                        getAxesAttr(), getDimAttr());
  return success();
}

LogicalResult AllReduceOp::buildGradients(OpBuilder &, ArrayRef<Value> resultGrads,
                                          SmallVectorImpl<Value> &operandGrads) {
  if (getKind() != ReduceKind::sum)
    return emitOpError("has a gradient only as a sum");
  operandGrads[0] = resultGrads[0];
  return success();
}

LogicalResult FanOutOp::buildGradients(OpBuilder &b, ArrayRef<Value> resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads[0] = AllReduceOp::create(b, getLoc(), getInput().getType(), resultGrads[0],
                                        getAxesAttr(), sumKind(b));
  return success();
}
