//===- TetraOps.cpp - model-level ops: verifiers, type inference, FLOPs ---===//
//
// Collectives live in CollectiveOps.cpp.
//
//===----------------------------------------------------------------------===//
#include "AxisSyntax.h"
#include "ShapeHelpers.h"
#include "tetra/TetraOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include <cmath>

using namespace mlir;
using namespace mlir::tetra;

static LogicalResult
emitInferError(std::optional<Location> loc, StringRef opName, const Twine &msg) {
  return emitOptionalError(loc, "'", opName, "' op ", msg);
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  RankedTensorType type = getTensorType();
  if (!llvm::isa<FloatType>(type.getElementType()))
    return emitOpError("parameter '")
           << getSymName() << "' must have a floating-point element type, got "
           << type.getElementType();
  if (std::optional<LayoutAttr> layout = getLayout())
    if (layout->getRank() != type.getRank())
      return emitOpError("layout of '")
             << getSymName() << "' has " << layout->getRank()
             << " dimensions but the parameter has rank " << type.getRank();
  return success();
}

LogicalResult
GetParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError("'") << getName() << "' does not name a tetra.param";
  if (param.getLocalTensorType() != getType())
    return emitOpError("type ")
           << getType() << " does not match parameter '" << getName() << "' of "
           << (param.getLocalType() ? "local type " : "type ")
           << param.getLocalTensorType();
  return success();
}

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

/// [V, H] table looked up by indices of any shape: indices.shape + [H].
static LogicalResult inferLookup(std::optional<Location> loc, StringRef opName,
                                 RankedTensorType table,
                                 RankedTensorType indices,
                                 SmallVectorImpl<Type> &results) {
  if (table.getRank() != 2)
    return emitInferError(loc, opName,
                          "table must have rank 2 [rows, features], got rank " +
                              Twine(table.getRank()));
  SmallVector<int64_t> shape(indices.getShape());
  shape.push_back(table.getDimSize(1));
  results.push_back(RankedTensorType::get(shape, table.getElementType()));
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  return inferLookup(loc, getOperationName(),
                     llvm::cast<RankedTensorType>(adaptor.getTable().getType()),
                     llvm::cast<RankedTensorType>(adaptor.getIndices().getType()),
                     results);
}

LogicalResult PositionsOp::verify() {
  if (getIndices().getType().getRank() != 2)
    return emitOpError("indices must have rank 2 [batch, sequence], got rank ")
           << getIndices().getType().getRank();
  int64_t offset = getOffsetAttr().getInt();
  if (offset < 0)
    return emitOpError("offset must be non-negative, got ") << offset;
  return success();
}

LogicalResult AbacusPositionsOp::verify() {
  int64_t first = getFirstDigitAttr().getInt(), last = getLastDigitAttr().getInt();
  if (first < 0 || first > last)
    return emitOpError("digit ids must satisfy 0 <= first_digit <= last_digit, "
                       "got ")
           << first << ".." << last;
  return success();
}

LogicalResult AbacusEmbeddingOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  return inferLookup(
      loc, getOperationName(),
      llvm::cast<RankedTensorType>(adaptor.getTable().getType()),
      llvm::cast<RankedTensorType>(adaptor.getPositions().getType()), results);
}

LogicalResult AbacusEmbeddingOp::verify() {
  int64_t maxOffset = getMaxOffsetAttr().getInt();
  if (maxOffset < 0)
    return emitOpError("max_offset must be non-negative, got ") << maxOffset;
  return success();
}

int64_t RotaryOp::getRotatedDims() {
  int64_t headDim = getInput().getType().getDimSize(3);
  return static_cast<int64_t>(std::llround(getFraction().convertToDouble() *
                                           static_cast<double>(headDim)));
}

LogicalResult RotaryOp::verify() {
  RankedTensorType type = getInput().getType();
  if (type.getRank() != 4)
    return emitOpError("input must have rank 4 [batch, sequence, heads, "
                       "head_dim], got rank ")
           << type.getRank();
  int64_t headDim = type.getDimSize(3);
  if (ShapedType::isDynamic(headDim))
    return emitOpError("head_dim must be static");
  double fraction = getFraction().convertToDouble();
  if (!(fraction > 0.0 && fraction <= 1.0))
    return emitOpError("fraction must be in (0, 1], got ") << numberToString(fraction);
  if (!(getBase().convertToDouble() > 0.0))
    return emitOpError("base must be positive, got ")
           << numberToString(getBase().convertToDouble());
  double rotated = fraction * static_cast<double>(headDim);
  int64_t rotatedDims = getRotatedDims();
  if (std::fabs(rotated - static_cast<double>(rotatedDims)) > 1e-9 ||
      rotatedDims % 2 != 0 || rotatedDims == 0)
    return emitOpError("fraction ")
           << numberToString(fraction) << " of head_dim " << headDim
           << " must give a positive even number of rotated channels, got "
           << numberToString(rotated);
  if (Value positions = getPositions()) {
    auto posType = llvm::cast<RankedTensorType>(positions.getType());
    if (posType.getRank() != 2 ||
        !sizesAgree(posType.getDimSize(0), type.getDimSize(0)) ||
        !sizesAgree(posType.getDimSize(1), type.getDimSize(1)))
      return emitOpError("positions of shape ")
             << shapeToString(posType.getShape())
             << " do not match [batch, sequence] of the input "
             << shapeToString(type.getShape());
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Linear layers, norms, activations
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto input = llvm::cast<RankedTensorType>(adaptor.getInput().getType());
  auto weight = llvm::cast<RankedTensorType>(adaptor.getWeight().getType());
  StringRef name = getOperationName();
  if (input.getRank() < 1)
    return emitInferError(loc, name, "input must have rank >= 1");
  if (weight.getRank() != 2)
    return emitInferError(loc, name,
                          "weight must have rank 2, got rank " +
                              Twine(weight.getRank()));
  if (input.getElementType() != weight.getElementType())
    return emitInferError(loc, name,
                          "input and weight element types differ");
  // While parsing, properties are not populated yet: read the attribute too.
  bool inOut = adaptor.getWeightInOut() ||
               (adaptor.getAttributes() &&
                adaptor.getAttributes().get(getWeightInOutAttrName(
                    OperationName(getOperationName(), input.getContext()))));
  int64_t k = weight.getDimSize(inOut ? 0 : 1);
  int64_t n = weight.getDimSize(inOut ? 1 : 0);
  int64_t inputK = input.getShape().back();
  if (!sizesAgree(k, inputK))
    return emitInferError(
        loc, name,
        "input features " + sizeToString(inputK) +
            " do not match the weight's input features " + sizeToString(k) +
            " (weight " + shapeToString(weight.getShape()) + ", stored " +
            (inOut ? "[in, out]" : "[out, in]") + ")");
  if (Value bias = adaptor.getBias()) {
    auto biasType = llvm::cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || !sizesAgree(biasType.getDimSize(0), n))
      return emitInferError(loc, name,
                            "bias of shape " + shapeToString(biasType.getShape()) +
                                " does not match the " + sizeToString(n) +
                                " output features");
  }
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = n;
  results.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

int64_t LinearOp::getInFeatures() {
  return getWeight().getType().getDimSize(getWeightInOut() ? 0 : 1);
}
int64_t LinearOp::getOutFeatures() {
  return getWeight().getType().getDimSize(getWeightInOut() ? 1 : 0);
}

double LinearOp::getForwardFlopsPerToken(int64_t) {
  return 2.0 * static_cast<double>(getInFeatures()) *
         static_cast<double>(getOutFeatures());
}

/// A norm's scale (and shift) must be [H], H the input's last dimension.
static LogicalResult verifyNormParam(Operation *op, RankedTensorType input,
                                     Value param, StringRef what) {
  auto type = llvm::cast<RankedTensorType>(param.getType());
  int64_t features = input.getRank() ? input.getShape().back() : 1;
  if (type.getRank() != 1 || !sizesAgree(type.getDimSize(0), features))
    return op->emitOpError()
           << what << " of shape " << shapeToString(type.getShape())
           << " does not match the " << sizeToString(features)
           << " features of the input";
  return success();
}

static LogicalResult verifyEps(Operation *op, double eps) {
  if (!(eps > 0.0))
    return op->emitOpError("eps must be positive, got ") << numberToString(eps);
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyEps(*this, getEps().convertToDouble())))
    return failure();
  return verifyNormParam(*this, getInput().getType(), getWeight(), "weight");
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyEps(*this, getEps().convertToDouble())) ||
      failed(verifyNormParam(*this, getInput().getType(), getWeight(), "weight")))
    return failure();
  if (Value bias = getBias())
    return verifyNormParam(*this, getInput().getType(), bias, "bias");
  return success();
}

LogicalResult AddOp::verify() {
  ArrayRef<int64_t> lhs = getLhs().getType().getShape();
  ArrayRef<int64_t> rhs = getRhs().getType().getShape();
  bool ok = rhs.size() <= lhs.size();
  for (size_t i = 0; ok && i < rhs.size(); ++i)
    ok = sizesAgree(rhs[rhs.size() - 1 - i], lhs[lhs.size() - 1 - i]);
  if (!ok)
    return emitOpError("rhs shape ")
           << shapeToString(rhs) << " must equal lhs shape "
           << shapeToString(lhs) << " or a suffix of it";
  if (getLhs().getType().getElementType() != getRhs().getType().getElementType())
    return emitOpError("lhs and rhs element types differ");
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType();
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"query", q},
                            {"key", k}, {"value", v}})
    if (type.getRank() != 4)
      return emitOpError()
             << name << " must have rank 4 [batch, sequence, heads, head_dim], "
             << "got rank " << type.getRank();
  if (k.getShape() != v.getShape() &&
      !llvm::all_of(llvm::zip(k.getShape(), v.getShape()), [](auto p) {
        return sizesAgree(std::get<0>(p), std::get<1>(p));
      }))
    return emitOpError("key shape ")
           << shapeToString(k.getShape()) << " differs from value shape "
           << shapeToString(v.getShape());
  if (!sizesAgree(q.getDimSize(0), k.getDimSize(0)))
    return emitOpError("query batch ")
           << sizeToString(q.getDimSize(0)) << " differs from key batch "
           << sizeToString(k.getDimSize(0));
  if (!sizesAgree(q.getDimSize(3), k.getDimSize(3)))
    return emitOpError("query head_dim ")
           << sizeToString(q.getDimSize(3)) << " differs from key head_dim "
           << sizeToString(k.getDimSize(3));
  int64_t hq = q.getDimSize(2), hkv = k.getDimSize(2);
  if (!ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
      (hkv == 0 || hq % hkv != 0))
    return emitOpError("query heads (")
           << hq << ") must be a multiple of key/value heads (" << hkv << ")";
  if (IntegerAttr windowAttr = getWindowAttr()) {
    int64_t window = windowAttr.getInt();
    if (!getCausal())
      return emitOpError("a sliding window needs a causal mask");
    if (window < 1)
      return emitOpError("window must be at least 1, got ") << window;
  }
  if (std::optional<APFloat> scale = getScale())
    if (!(scale->convertToDouble() > 0.0))
      return emitOpError("scale must be positive, got ")
             << numberToString(scale->convertToDouble());
  if (std::optional<LokiAttr> loki = getLoki()) {
    int64_t headDim = q.getDimSize(3);
    if (!ShapedType::isDynamic(headDim) &&
        loki->getDimFraction().convertToDouble() * static_cast<double>(headDim) < 1.0)
      return emitOpError("Loki dim_fraction ")
             << numberToString(loki->getDimFraction().convertToDouble()) << " keeps no channel of head_dim "
             << headDim;
  }
  return success();
}

/// Average number of keys a query attends to, at sequence length S:
/// S without a mask; S/2 with a causal mask (the S^2/2 convention of the
/// field's FLOP formulas); W - W^2/(2S) with a window W < S (the band's area
/// over S, which equals S/2 at W = S).
static double averageKeysPerQuery(bool causal, std::optional<int64_t> window,
                                  int64_t seqLen) {
  double s = static_cast<double>(seqLen);
  if (!causal)
    return s;
  if (window && *window < seqLen) {
    double w = static_cast<double>(*window);
    return w - w * w / (2.0 * s);
  }
  return s / 2.0;
}

double AttentionOp::getForwardFlopsPerToken(int64_t seqLen) {
  RankedTensorType q = getQuery().getType();
  double heads = static_cast<double>(q.getDimSize(2));
  double headDim = static_cast<double>(q.getDimSize(3));
  // Scores q.k^T and the weighted sum of values: 2 FLOPs per multiply-add each.
  return 4.0 * heads * headDim * averageKeysPerQuery(getCausal(), getWindow(), seqLen);
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *ctx,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &results) {
  auto logits = llvm::cast<RankedTensorType>(adaptor.getLogits().getType());
  auto targets = llvm::cast<RankedTensorType>(adaptor.getTargets().getType());
  bool ok = logits.getRank() == targets.getRank() + 1;
  for (int64_t i = 0; ok && i < targets.getRank(); ++i)
    ok = sizesAgree(logits.getDimSize(i), targets.getDimSize(i));
  if (!ok)
    return emitInferError(loc, getOperationName(),
                          "logits of shape " + shapeToString(logits.getShape()) +
                              " must be the targets' shape " +
                              shapeToString(targets.getShape()) +
                              " plus a vocabulary dimension");
  results.push_back(RankedTensorType::get({}, Float32Type::get(ctx)));
  return success();
}

//===----------------------------------------------------------------------===//
// Recurrence
//===----------------------------------------------------------------------===//

LogicalResult RecurrentOp::verifyRegions() {
  RankedTensorType state = getInit().getType();
  Block &body = getBody().front();
  if (body.getNumArguments() != 1 || body.getArgument(0).getType() != state)
    return emitOpError("body must take one argument of the state type ")
           << state;
  auto yield = llvm::dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      yield.getValues().front().getType() != state)
    return emitOpError("body must yield one value of the state type ") << state;
  if (getMeanIterationsAttr().getInt() < 1 || getGradIterationsAttr().getInt() < 1)
    return emitOpError("mean_iterations and grad_iterations must be at least 1");
  RankedTensorType inject = getInject().getType();
  if (getMode() == Injection::add) {
    if (getAdapter())
      return emitOpError("injection 'add' takes no adapter weight");
    if (inject != state)
      return emitOpError("injection 'add' needs the injected value's type ")
             << inject << " to equal the state type " << state;
    return success();
  }
  if (!getAdapter())
    return emitOpError("injection 'adapter' needs an adapter weight");
  int64_t hidden = state.getShape().back();
  auto adapter = llvm::cast<RankedTensorType>(getAdapter().getType());
  if (adapter.getRank() != 2 || !sizesAgree(adapter.getDimSize(0), hidden) ||
      !sizesAgree(inject.getShape().back(), hidden) ||
      (!ShapedType::isDynamic(hidden) &&
       !sizesAgree(adapter.getDimSize(1), 2 * hidden)))
    return emitOpError("adapter weight of shape ")
           << shapeToString(adapter.getShape()) << " must be [H, 2H] for state "
           << shapeToString(state.getShape()) << " and injected value "
           << shapeToString(inject.getShape());
  return success();
}

double RecurrentOp::getForwardFlopsPerToken(int64_t seqLen) {
  double perIteration = forwardFlopsPerToken(getBody(), seqLen);
  if (Value adapter = getAdapter()) {
    auto type = llvm::cast<RankedTensorType>(adapter.getType());
    perIteration += 2.0 * static_cast<double>(type.getNumElements());
  }
  return static_cast<double>(getMeanIterations()) * perIteration;
}

double tetra::forwardFlopsPerToken(Region &region, int64_t seqLen) {
  double flops = 0;
  for (Block &block : region)
    for (Operation &op : block)
      if (auto counted = llvm::dyn_cast<ForwardFlopsOpInterface>(op))
        flops += counted.getForwardFlopsPerToken(seqLen);
  return flops;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

LogicalResult AdamWOp::verify() {
  double b1 = getBeta1().convertToDouble(), b2 = getBeta2().convertToDouble();
  if (!(b1 >= 0.0 && b1 < 1.0) || !(b2 >= 0.0 && b2 < 1.0))
    return emitOpError("beta1 and beta2 must be in [0, 1), got ")
           << numberToString(b1) << " and " << numberToString(b2);
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be positive, got ")
           << numberToString(getEps().convertToDouble());
  if (!(getWeightDecay().convertToDouble() >= 0.0))
    return emitOpError("weight_decay must be non-negative, got ")
           << numberToString(getWeightDecay().convertToDouble());
  return success();
}

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingGradOp::verify() {
  RankedTensorType grad = getGrad().getType(), result = getType();
  ArrayRef<int64_t> ids = getIndices().getType().getShape();
  if (grad.getRank() != static_cast<int64_t>(ids.size()) + 1 ||
      !llvm::equal(grad.getShape().drop_back(), ids) || result.getRank() != 2 ||
      result.getDimSize(1) != grad.getShape().back())
    return emitOpError("gradient ")
           << shapeToString(grad.getShape()) << " and indices " << shapeToString(ids)
           << " do not give a table of shape " << shapeToString(result.getShape());
  return success();
}

LogicalResult LinearWeightGradOp::verify() {
  RankedTensorType input = getInput().getType(), grad = getGrad().getType();
  int64_t k = input.getShape().back(), n = grad.getShape().back();
  SmallVector<int64_t> expected =
      getWeightInOut() ? SmallVector<int64_t>{k, n} : SmallVector<int64_t>{n, k};
  if (input.getShape().drop_back() != grad.getShape().drop_back() ||
      getType().getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("input ")
           << shapeToString(input.getShape()) << " and gradient "
           << shapeToString(grad.getShape()) << " give a weight of shape "
           << shapeToString(expected) << ", not " << shapeToString(getType().getShape());
  return success();
}

LogicalResult SumLeadingOp::verify() {
  ArrayRef<int64_t> in = getInput().getType().getShape(), out = getType().getShape();
  if (out.size() > in.size() || in.take_back(out.size()) != out)
    return emitOpError("result shape ")
           << shapeToString(out) << " is not a suffix of the input shape "
           << shapeToString(in);
  return success();
}

#define GET_OP_CLASSES
/// The shapes the flash-attention ops on buffers share: static, query-
/// shaped `queryLike`, key-shaped `keyLike`, [B, S, Hq] `rows`.
static LogicalResult verifyFlashShapes(Operation *op, Value query, Value key,
                                       ArrayRef<Value> queryLike, ArrayRef<Value> keyLike,
                                       ArrayRef<Value> rows) {
  auto q = llvm::cast<MemRefType>(query.getType());
  auto k = llvm::cast<MemRefType>(key.getType());
  for (Value v : op->getOperands())
    if (auto type = llvm::dyn_cast<MemRefType>(v.getType()); type && !type.hasStaticShape())
      return op->emitOpError("needs static shapes");
  auto shapeOf = [](Value v) { return llvm::cast<MemRefType>(v.getType()).getShape(); };
  for (Value v : queryLike)
    if (shapeOf(v) != q.getShape())
      return op->emitOpError("operand shape ")
             << shapeToString(shapeOf(v)) << " differs from query shape "
             << shapeToString(q.getShape());
  for (Value v : keyLike)
    if (shapeOf(v) != k.getShape())
      return op->emitOpError("operand shape ")
             << shapeToString(shapeOf(v)) << " differs from key shape "
             << shapeToString(k.getShape());
  SmallVector<int64_t> rowShape{q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)};
  for (Value v : rows)
    if (shapeOf(v) != ArrayRef<int64_t>(rowShape))
      return op->emitOpError("row operand shape ")
             << shapeToString(shapeOf(v)) << " is not [batch, queries, heads] "
             << shapeToString(rowShape);
  if (q.getDimSize(0) != k.getDimSize(0) || q.getDimSize(3) != k.getDimSize(3))
    return op->emitOpError("query and key differ in batch or head_dim");
  if (k.getDimSize(2) == 0 || q.getDimSize(2) % k.getDimSize(2) != 0)
    return op->emitOpError("query heads (")
           << q.getDimSize(2) << ") must be a multiple of key/value heads ("
           << k.getDimSize(2) << ")";
  return success();
}

LogicalResult FlashAttentionOp::verify() {
  SmallVector<Value> rows;
  if (Value lse = getLogsumexp())
    rows.push_back(lse);
  return verifyFlashShapes(*this, getQuery(), getKey(), {getResult()}, {getValue()}, rows);
}

LogicalResult FlashAttentionGradOp::verify() {
  auto q = llvm::cast<MemRefType>(getQuery().getType());
  auto k = llvm::cast<MemRefType>(getKey().getType());
  if (k.getDimSize(1) < q.getDimSize(1))
    return emitOpError("needs at least as many keys (")
           << k.getDimSize(1) << ") as queries (" << q.getDimSize(1) << ")";
  return verifyFlashShapes(*this, getQuery(), getKey(), {getGrad(), getQueryGrad()},
                           {getValue(), getKeyGrad(), getValueGrad()},
                           {getLogsumexp(), getDelta()});
}

#include "tetra/TetraOps.cpp.inc"
