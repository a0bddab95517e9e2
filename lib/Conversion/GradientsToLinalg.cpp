//===- GradientsToLinalg.cpp - the *_grad ops and AdamW to linalg ----------===//
//
// Backward formulas (per row of the last dimension, H features):
//   rmsnorm:   r = rsqrt(mean(x^2) + eps), w' = w or 1 + w
//              dx = r (dy w') - x r^3 / H sum(dy w' x),  dw = sum_rows dy x r
//   layernorm: xh = (x - mean) r, g = dy w
//              dx = r (g - mean(g) - xh mean(g xh)),  dw = sum_rows dy xh,
//              db = sum_rows dy
//   attention: dV = P^T dO, dP = dO V^T, dS = P (dP - sum_t(P dP)) scale,
//              dQ = dS K, dK = dS^T Q (GQA sums over the query heads of a group)
//   cross-entropy: (softmax - onehot) * dloss / kept, on kept rows
//
//===----------------------------------------------------------------------===//
#include "LinalgBuilders.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include <cmath>

using namespace mlir;
using namespace mlir::tetra;

namespace {

Value mulf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}
Value addf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
Value subf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}

/// Rows of a gradient scattered into a table by token id: one pass over the
/// tokens, updating the table in place (scf.for on tensors bufferizes to it).
struct EmbeddingGradLowering : OpRewritePattern<EmbeddingGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    RankedTensorType tableType = op.getType();
    Value grad = flattenRows(b, loc, op.getGrad());
    auto gradType = llvm::cast<RankedTensorType>(grad.getType());
    int64_t rows = gradType.getDimSize(0), features = gradType.getDimSize(1);
    Value ids = flattenAll(b, loc, op.getIndices());
    Value zero = constantIndex(b, loc, 0), one = constantIndex(b, loc, 1);
    Value table = filled(b, loc, tableType, 0.0);
    // A vocabulary shard: other shards' ids add 0 to row 0.
    int64_t tableRows = tableType.getDimSize(0);
    VocabShard shard = vocabShard(b, loc, op, op.getVocabAxesAttr(), nullptr, tableRows);
    auto outer = scf::ForOp::create(
        b, loc, zero, constantIndex(b, loc, rows), one, ValueRange{table},
        [&](OpBuilder &ob, Location ol, Value m, ValueRange acc) {
          Value row = indexValue(ob, ol, tensor::ExtractOp::create(ob, ol, ids, ValueRange{m}));
          Value inShard;
          if (shard.offset)
            std::tie(row, inShard) = localIndex(ob, ol, row, shard.offset, tableRows);
          auto inner = scf::ForOp::create(
              ob, ol, zero, constantIndex(ob, ol, features), one, ValueRange{acc[0]},
              [&](OpBuilder &ib, Location il, Value h, ValueRange t) {
                Value old = tensor::ExtractOp::create(ib, il, t[0], ValueRange{row, h});
                Value g = tensor::ExtractOp::create(ib, il, grad, ValueRange{m, h});
                if (inShard)
                  g = arith::SelectOp::create(ib, il, inShard, g,
                                              constantFloat(ib, il, g.getType(), 0.0));
                Value updated = tensor::InsertOp::create(ib, il, addf(ib, il, old, g), t[0],
                                                         ValueRange{row, h});
                scf::YieldOp::create(ib, il, updated);
              });
          scf::YieldOp::create(ob, ol, inner.getResults());
        });
    b.replaceOp(op, outer.getResult(0));
    return success();
  }
};

struct RMSNormGradLowering : OpRewritePattern<RMSNormGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    RankedTensorType type = op.getInput().getType();
    unsigned rank = type.getRank();
    Type f = type.getElementType();
    DenseI32ArrayAttr statAxes = op.getStatAxesAttr();
    double features = static_cast<double>(type.getShape().back() * groupSize(op, statAxes));
    double eps = op.getEps().convertToDouble();
    bool unit = op.getUnitOffset();
    Value x = op.getInput(), w = op.getWeight(), dy = op.getGrad();
    AffineMap id = identity(ctx, rank), row = dropLast(ctx, rank),
              last = suffix(ctx, rank, rank - 1);
    auto scaleOf = [&](OpBuilder &nb, Location nl, Value weight) -> Value {
      return unit ? addf(nb, nl, weight, constantFloat(nb, nl, f, 1.0)) : weight;
    };
    // r = rsqrt(mean(x^2) + eps) per row.
    Value sumsq = reduceSumLast(b, loc, x, [](OpBuilder &nb, Location nl, Value v) {
      return mulf(nb, nl, v, v);
    });
    sumsq = reduceOver(b, loc, sumsq, statAxes);
    RankedTensorType rowType = withoutLast(type);
    Value r = generic(b, loc, rowType, {sumsq}, empty(b, loc, rowType),
                      {identity(ctx, rank - 1), identity(ctx, rank - 1)}, parallel(rank - 1),
                      [&](OpBuilder &nb, Location nl, ValueRange a) {
                        Value mean = arith::DivFOp::create(
                            nb, nl, a[0], constantFloat(nb, nl, f, features));
                        linalg::YieldOp::create(
                            nb, nl,
                            Value(math::RsqrtOp::create(
                                nb, nl, addf(nb, nl, mean, constantFloat(nb, nl, f, eps)))));
                      });
    // dot = sum_j dy w' x per row.
    Value dot = generic(b, loc, rowType, {dy, w, x}, filled(b, loc, rowType, 0.0),
                        {id, last, id, row}, reduceLast(rank),
                        [&](OpBuilder &nb, Location nl, ValueRange a) {
                          Value v = mulf(nb, nl, mulf(nb, nl, a[0], scaleOf(nb, nl, a[1])), a[2]);
                          linalg::YieldOp::create(nb, nl, addf(nb, nl, a[3], v));
                        });
    dot = reduceOver(b, loc, dot, statAxes);
    Value dx = generic(
        b, loc, type, {x, w, dy, r, dot}, empty(b, loc, type), {id, last, id, row, row, id},
        parallel(rank), [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value rr = a[3];
          Value first = mulf(nb, nl, rr, mulf(nb, nl, a[2], scaleOf(nb, nl, a[1])));
          Value r3 = mulf(nb, nl, mulf(nb, nl, rr, rr), rr);
          Value second = mulf(
              nb, nl, mulf(nb, nl, a[0], r3),
              arith::DivFOp::create(nb, nl, a[4], constantFloat(nb, nl, f, features)));
          linalg::YieldOp::create(nb, nl, subf(nb, nl, first, second));
        });
    RankedTensorType wType = op.getWeight().getType();
    Value dw = generic(b, loc, wType, {dy, x, r}, filled(b, loc, wType, 0.0),
                       {id, id, row, last}, reduceLeading(rank, 1),
                       [&](OpBuilder &nb, Location nl, ValueRange a) {
                         Value v = mulf(nb, nl, mulf(nb, nl, a[0], a[1]), a[2]);
                         linalg::YieldOp::create(nb, nl, addf(nb, nl, a[3], v));
                       });
    b.replaceOp(op, {dx, dw});
    return success();
  }
};

struct LayerNormGradLowering : OpRewritePattern<LayerNormGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    RankedTensorType type = op.getInput().getType();
    unsigned rank = type.getRank();
    Type f = type.getElementType();
    DenseI32ArrayAttr statAxes = op.getStatAxesAttr();
    Value n = constantFloat(
        b, loc, f, static_cast<double>(type.getShape().back() * groupSize(op, statAxes)));
    double eps = op.getEps().convertToDouble();
    Value x = op.getInput(), w = op.getWeight(), dy = op.getGrad();
    AffineMap id = identity(ctx, rank), row = dropLast(ctx, rank),
              last = suffix(ctx, rank, rank - 1), rowId = identity(ctx, rank - 1);
    RankedTensorType rowType = withoutLast(type);
    Value sum = reduceOver(
        b, loc, reduceSumLast(b, loc, x, [](OpBuilder &, Location, Value v) { return v; }),
        statAxes);
    Value mean = generic(b, loc, rowType, {sum}, empty(b, loc, rowType), {rowId, rowId},
                         parallel(rank - 1), [&](OpBuilder &nb, Location nl, ValueRange a) {
                           linalg::YieldOp::create(
                               nb, nl, Value(arith::DivFOp::create(nb, nl, a[0], n)));
                         });
    Value var = generic(b, loc, rowType, {x, mean}, filled(b, loc, rowType, 0.0),
                        {id, row, row}, reduceLast(rank),
                        [&](OpBuilder &nb, Location nl, ValueRange a) {
                          Value d = subf(nb, nl, a[0], a[1]);
                          linalg::YieldOp::create(nb, nl, addf(nb, nl, a[2], mulf(nb, nl, d, d)));
                        });
    var = reduceOver(b, loc, var, statAxes);
    Value r = generic(b, loc, rowType, {var}, empty(b, loc, rowType), {rowId, rowId},
                      parallel(rank - 1), [&](OpBuilder &nb, Location nl, ValueRange a) {
                        Value v = arith::DivFOp::create(nb, nl, a[0], n);
                        linalg::YieldOp::create(
                            nb, nl,
                            Value(math::RsqrtOp::create(
                                nb, nl, addf(nb, nl, v, constantFloat(nb, nl, f, eps)))));
                      });
    // xh = (x - mean) r
    Value xh = generic(b, loc, type, {x, mean, r}, empty(b, loc, type), {id, row, row, id},
                       parallel(rank), [&](OpBuilder &nb, Location nl, ValueRange a) {
                         linalg::YieldOp::create(
                             nb, nl, mulf(nb, nl, subf(nb, nl, a[0], a[1]), a[2]));
                       });
    // Per row: sum(g) and sum(g xh), g = dy w.
    auto sums = linalg::GenericOp::create(
        b, loc, TypeRange{rowType, rowType}, ValueRange{dy, w, xh},
        ValueRange{filled(b, loc, rowType, 0.0), filled(b, loc, rowType, 0.0)},
        {id, last, id, row, row}, reduceLast(rank),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value g = mulf(nb, nl, a[0], a[1]);
          linalg::YieldOp::create(
              nb, nl, ValueRange{addf(nb, nl, a[3], g), addf(nb, nl, a[4], mulf(nb, nl, g, a[2]))});
        });
    Value sumG = reduceOver(b, loc, sums.getResult(0), statAxes);
    Value sumGx = reduceOver(b, loc, sums.getResult(1), statAxes);
    Value dx = generic(
        b, loc, type, {dy, w, xh, r, sumG, sumGx},
        empty(b, loc, type), {id, last, id, row, row, row, id}, parallel(rank),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value g = mulf(nb, nl, a[0], a[1]);
          Value meanG = arith::DivFOp::create(nb, nl, a[4], n);
          Value meanGx = arith::DivFOp::create(nb, nl, a[5], n);
          Value inner = subf(nb, nl, subf(nb, nl, g, meanG), mulf(nb, nl, a[2], meanGx));
          linalg::YieldOp::create(nb, nl, mulf(nb, nl, a[3], inner));
        });
    RankedTensorType wType = op.getWeight().getType();
    auto wb = linalg::GenericOp::create(
        b, loc, TypeRange{wType, wType}, ValueRange{dy, xh},
        ValueRange{filled(b, loc, wType, 0.0), filled(b, loc, wType, 0.0)},
        {id, id, last, last}, reduceLeading(rank, 1),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          linalg::YieldOp::create(nb, nl,
                                  ValueRange{addf(nb, nl, a[2], mulf(nb, nl, a[0], a[1])),
                                             addf(nb, nl, a[3], a[0])});
        });
    b.replaceOp(op, {dx, wb.getResult(0), wb.getResult(1)});
    return success();
  }
};

struct LinearWeightGradLowering : OpRewritePattern<LinearWeightGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearWeightGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value x = flattenRows(b, loc, op.getInput());   // [M, K]
    Value dy = flattenRows(b, loc, op.getGrad());   // [M, N]
    // Loops (n, k, m) for [N, K]; (k, n, m) for [K, N].
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               dm = getAffineDimExpr(2, ctx);
    bool inOut = op.getWeightInOut();
    AffineMap xMap = inOut ? dims(ctx, 3, {dm, d0}) : dims(ctx, 3, {dm, d1});
    AffineMap gMap = inOut ? dims(ctx, 3, {dm, d1}) : dims(ctx, 3, {dm, d0});
    Value result = generic(b, loc, op.getType(), {x, dy}, filled(b, loc, op.getType(), 0.0),
                           {xMap, gMap, dims(ctx, 3, {d0, d1})},
                           {IteratorType::parallel, IteratorType::parallel,
                            IteratorType::reduction},
                           [](OpBuilder &nb, Location nl, ValueRange a) {
                             linalg::YieldOp::create(
                                 nb, nl, addf(nb, nl, a[2], mulf(nb, nl, a[0], a[1])));
                           });
    b.replaceOp(op, result);
    return success();
  }
};

struct SumLeadingLowering : OpRewritePattern<SumLeadingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SumLeadingOp op, PatternRewriter &b) const override {
    b.replaceOp(op, reduceSumLeading(b, op.getLoc(), op.getInput(), op.getType()));
    return success();
  }
};

/// Elementwise gradient ops: out = f(inputs...) with identical shapes.
LogicalResult lowerElementwise(Operation *op, PatternRewriter &b, ValueRange inputs,
                               TypeRange results,
                               function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> f) {
  Location loc = op->getLoc();
  auto type = llvm::cast<RankedTensorType>(results.front());
  unsigned rank = type.getRank();
  SmallVector<Value> outs;
  for (Type t : results)
    outs.push_back(empty(b, loc, llvm::cast<RankedTensorType>(t)));
  SmallVector<AffineMap> maps(inputs.size() + results.size(),
                              identity(b.getContext(), rank));
  auto generic = linalg::GenericOp::create(
      b, loc, results, inputs, outs, maps, parallel(rank),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        linalg::YieldOp::create(nb, nl, f(nb, nl, a));
      });
  b.replaceOp(op, generic.getResults());
  return success();
}

struct GeluGradLowering : OpRewritePattern<GeluGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GeluGradOp op, PatternRewriter &b) const override {
    bool tanh = op.getApproximate() == GeluApprox::tanh;
    return lowerElementwise(op, b, op->getOperands(), op->getResultTypes(),
                            [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                              return {mulf(nb, nl, geluDerivative(nb, nl, a[0], tanh), a[1])};
                            });
  }
};

struct SiluGradLowering : OpRewritePattern<SiluGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SiluGradOp op, PatternRewriter &b) const override {
    return lowerElementwise(op, b, op->getOperands(), op->getResultTypes(),
                            [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
                              return {mulf(nb, nl, siluDerivative(nb, nl, a[0]), a[1])};
                            });
  }
};

struct GluGradLowering : OpRewritePattern<GluGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GluGradOp op, PatternRewriter &b) const override {
    GluActivation act = op.getActivation();
    return lowerElementwise(
        op, b, op->getOperands(), op->getResultTypes(),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
          Value gate = a[0], up = a[1], dy = a[2];
          Value value = act == GluActivation::silu
                            ? siluScalar(nb, nl, gate)
                            : geluScalar(nb, nl, gate, act == GluActivation::gelu_tanh);
          Value slope = act == GluActivation::silu
                            ? siluDerivative(nb, nl, gate)
                            : geluDerivative(nb, nl, gate, act == GluActivation::gelu_tanh);
          return {mulf(nb, nl, mulf(nb, nl, dy, up), slope), mulf(nb, nl, dy, value)};
        });
  }
};

struct AttentionGradLowering : OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue(), dO = op.getGrad();
    auto qType = op.getQuery().getType(), kType = op.getKey().getType();
    Type f = qType.getElementType();
    int64_t batch = qType.getDimSize(0), s = qType.getDimSize(1), hq = qType.getDimSize(2),
            t = kType.getDimSize(1), hkv = kType.getDimSize(2), d = qType.getDimSize(3);
    int64_t group = hq / hkv;
    std::optional<int64_t> window;
    if (IntegerAttr w = op.getWindowAttr())
      window = w.getInt();
    std::optional<double> scaleOpt;
    if (op.getScale())
      scaleOpt = op.getScale()->convertToDouble();
    double scale = attentionScale(q, scaleOpt);
    Value p = attentionProbabilities(b, loc, q, k, op.getCausal(), window, scaleOpt);
    auto pType = llvm::cast<RankedTensorType>(p.getType());
    auto e = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto fma = [](OpBuilder &nb, Location nl, ValueRange a) {
      linalg::YieldOp::create(nb, nl, addf(nb, nl, a[2], mulf(nb, nl, a[0], a[1])));
    };
    Value cGroup = constantIndex(b, loc, group);
    // One GEMM per (batch, query head); `kv` is the head's key/value head.
    auto perHeadGemm = [&](Value init, ArrayRef<unsigned> outDims, bool useKvHead,
                           Value x, ArrayRef<unsigned> xDims, bool xKv, bool transX,
                           Value y, ArrayRef<unsigned> yDims, bool yKv, bool transY) {
      return forEachHead(
          b, loc, batch, hq, init,
          [&](OpBuilder &nb, Location nl, Value bi, Value hi, Value acc) -> Value {
            Value kv = arith::DivUIOp::create(nb, nl, hi, cGroup);
            Value xs = slice2D(nb, nl, x, xDims, {bi, xKv ? kv : hi});
            Value ys = slice2D(nb, nl, y, yDims, {bi, yKv ? kv : hi});
            Value head = useKvHead ? kv : hi;
            Value cs = slice2D(nb, nl, acc, outDims, {bi, head});
            return insert2D(nb, nl, gemm2D(nb, nl, xs, transX, ys, transY, cs), acc, outDims,
                            {bi, head});
          });
    };
    // dP[b, h] = dO[b, :, h, :] v[b, :, kv, :]^T
    Value dP = perHeadGemm(filled(b, loc, pType, 0.0), {2, 3}, false, dO, {1, 3}, false,
                           false, v, {1, 3}, true, true);
    // rowDot[b, h, s] = sum_t P dP; dS = P (dP - rowDot) scale
    AffineMap id4 = identity(ctx, 4), row4 = dropLast(ctx, 4);
    auto rowType = RankedTensorType::get({batch, hq, s}, f);
    Value rowDot = generic(b, loc, rowType, {p, dP}, filled(b, loc, rowType, 0.0),
                           {id4, id4, row4}, reduceLast(4), fma);
    Value dS = generic(b, loc, pType, {p, dP, rowDot}, empty(b, loc, pType),
                       {id4, id4, row4, id4}, parallel(4),
                       [&](OpBuilder &nb, Location nl, ValueRange a) {
                         Value g = mulf(nb, nl, a[0], subf(nb, nl, a[1], a[2]));
                         linalg::YieldOp::create(
                             nb, nl, mulf(nb, nl, g, constantFloat(nb, nl, f, scale)));
                       });
    // dQ[b, :, h, :] = dS[b, h] k[b, :, kv, :]
    Value dQ = perHeadGemm(filled(b, loc, qType, 0.0), {1, 3}, false, dS, {2, 3}, false,
                           false, k, {1, 3}, true, false);
    // Per query head, then summed over the heads of each KV group:
    // dK[b, :, h, :] = dS[b, h]^T q[b, :, h, :], dV[b, :, h, :] = P[b, h]^T dO[b, :, h, :]
    auto perHead = RankedTensorType::get({batch, t, hq, d}, f);
    Value dKHeads = perHeadGemm(filled(b, loc, perHead, 0.0), {1, 3}, false, dS, {2, 3},
                                false, true, q, {1, 3}, false, false);
    Value dVHeads = perHeadGemm(filled(b, loc, perHead, 0.0), {1, 3}, false, p, {2, 3},
                                false, true, dO, {1, 3}, false, false);
    auto sumGroups = [&](Value heads) -> Value {
      if (group == 1)
        return heads;
      // Query head h = j * group + g: [B, T, Hq, D] -> [B, T, Hkv, group, D].
      auto grouped = RankedTensorType::get({batch, t, hkv, group, d}, f);
      Value split = tensor::ExpandShapeOp::create(
          b, loc, grouped, heads, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
      return generic(b, loc, kType, {split}, filled(b, loc, kType, 0.0),
                     {identity(ctx, 5), dims(ctx, 5, {e(0), e(1), e(2), e(4)})},
                     {IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
                      IteratorType::reduction, IteratorType::parallel},
                     [](OpBuilder &nb, Location nl, ValueRange a) {
                       linalg::YieldOp::create(nb, nl, addf(nb, nl, a[1], a[0]));
                     });
    };
    Value dK = sumGroups(dKHeads);
    Value dV = sumGroups(dVHeads);
    b.replaceOp(op, {dQ, dK, dV});
    return success();
  }
};

struct CrossEntropyGradLowering : OpRewritePattern<CrossEntropyGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyGradOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto logitsType = op.getLogits().getType();
    Type f = logitsType.getElementType();
    Value logits = flattenRows(b, loc, op.getLogits());
    Value targets = flattenAll(b, loc, op.getTargets());
    auto flatType = llvm::cast<RankedTensorType>(logits.getType());
    int64_t ignore = op.getIgnoreIndexAttr().getInt();
    AffineMap id2 = identity(ctx, 2), row2 = dropLast(ctx, 2), id1 = identity(ctx, 1);
    VocabShard shard = vocabShard(b, loc, op, op.getVocabAxesAttr(), op.getVocabSizeAttr(),
                                  flatType.getDimSize(1));
    // The same pass as the forward's (target logit included), so that CSE
    // makes the two one.
    RowLogSumExp stats = rowLogSumExp(b, loc, logits, shard, targets);
    Value rowMax = stats.max, sumExp = stats.sumExp;
    auto scalarType = RankedTensorType::get({}, f);
    FailureOr<Value> kept0 =
        keptMask(b, loc, op, op.getTargets(), ignore, op.getGoldfishAttr(), f);
    if (failed(kept0))
      return failure();
    Value keptFlat = flattenAll(b, loc, *kept0);
    Value kept = generic(b, loc, scalarType, {keptFlat}, filled(b, loc, scalarType, 0.0),
                         {id1, AffineMap::get(1, 0, {}, ctx)}, {IteratorType::reduction},
                         [&](OpBuilder &nb, Location nl, ValueRange a) {
                           linalg::YieldOp::create(nb, nl, addf(nb, nl, a[1], a[0]));
                         });
    kept = reduceOver(b, loc, kept, op.getRowAxesAttr());
    Value dLoss = tensor::ExtractOp::create(b, loc, op.getGrad(), ValueRange{});
    Value keptScalar = tensor::ExtractOp::create(b, loc, kept, ValueRange{});
    Value coef = arith::DivFOp::create(
        b, loc, dLoss,
        arith::MaximumFOp::create(b, loc, keptScalar, constantFloat(b, loc, f, 1.0)));
    Value grad = generic(
        b, loc, flatType, {logits, targets, rowMax, sumExp, keptFlat}, empty(b, loc, flatType),
        {id2, row2, row2, row2, row2, id2}, parallel(2),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value softmax = arith::DivFOp::create(
              nb, nl, math::ExpOp::create(nb, nl, subf(nb, nl, a[0], a[2])), a[3]);
          Value col = shard.global(nb, nl, linalg::IndexOp::create(nb, nl, 1));
          Value isTarget = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, col,
                                                 indexValue(nb, nl, a[1]));
          Value onehot = arith::SelectOp::create(nb, nl, isTarget, constantFloat(nb, nl, f, 1.0),
                                                 constantFloat(nb, nl, f, 0.0));
          // Rows not kept (mask 0) get no gradient.
          Value g = mulf(nb, nl, mulf(nb, nl, subf(nb, nl, softmax, onehot), coef), a[4]);
          // Nor do padding columns.
          if (shard.vocabSize)
            g = arith::SelectOp::create(nb, nl, shard.isReal(nb, nl, col), g,
                                        constantFloat(nb, nl, f, 0.0));
          linalg::YieldOp::create(nb, nl, g);
        });
    if (logitsType.getRank() != 2)
      grad = tensor::ExpandShapeOp::create(
          b, loc, logitsType, grad,
          llvm::cast<tensor::CollapseShapeOp>(logits.getDefiningOp()).getReassociationIndices());
    b.replaceOp(op, grad);
    return success();
  }
};

/// AdamW as PyTorch's single-tensor implementation computes it: decay, then
/// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, and
/// p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps); the bias
/// corrections are computed in double, as Python does.
struct AdamWLowering : OpRewritePattern<AdamWOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AdamWOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    Type f32 = b.getF32Type(), f64 = b.getF64Type();
    double b1 = op.getBeta1().convertToDouble(), b2 = op.getBeta2().convertToDouble();
    double eps = op.getEps().convertToDouble(), wd = op.getWeightDecay().convertToDouble();
    Value lr64 = arith::ExtFOp::create(b, loc, f64, op.getLr());
    Value t = arith::SIToFPOp::create(b, loc, f64, op.getStep());
    auto oneMinusPow = [&](double beta) -> Value {
      Value pw = math::PowFOp::create(b, loc, constantFloat(b, loc, f64, beta), t);
      return arith::SubFOp::create(b, loc, constantFloat(b, loc, f64, 1.0), pw);
    };
    Value stepSize = arith::TruncFOp::create(
        b, loc, f32, arith::DivFOp::create(b, loc, lr64, oneMinusPow(b1)));
    Value bc2Sqrt = arith::TruncFOp::create(b, loc, f32,
                                            math::SqrtOp::create(b, loc, oneMinusPow(b2)));
    Value decay = arith::TruncFOp::create(
        b, loc, f32,
        arith::SubFOp::create(b, loc, constantFloat(b, loc, f64, 1.0),
                              arith::MulFOp::create(b, loc, lr64, constantFloat(b, loc, f64, wd))));
    Value gradScale = op.getGradScale();
    return lowerElementwise(
        op, b, ValueRange{op.getParam(), op.getGrad(), op.getM(), op.getV()},
        op->getResultTypes(),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> SmallVector<Value> {
          Value p = a[0], g = a[1], m = a[2], v = a[3];
          if (gradScale)
            g = mulf(nb, nl, g, gradScale);
          if (wd != 0.0)
            p = mulf(nb, nl, p, decay);
          Value m2 = addf(nb, nl, mulf(nb, nl, m, constantFloat(nb, nl, f32, b1)),
                          mulf(nb, nl, g, constantFloat(nb, nl, f32, 1.0 - b1)));
          Value v2 = addf(nb, nl, mulf(nb, nl, v, constantFloat(nb, nl, f32, b2)),
                          mulf(nb, nl, mulf(nb, nl, g, g), constantFloat(nb, nl, f32, 1.0 - b2)));
          Value denom = addf(nb, nl,
                             arith::DivFOp::create(nb, nl, math::SqrtOp::create(nb, nl, v2), bc2Sqrt),
                             constantFloat(nb, nl, f32, eps));
          Value p2 = subf(nb, nl, p,
                          mulf(nb, nl, stepSize, arith::DivFOp::create(nb, nl, m2, denom)));
          return {p2, m2, v2};
        });
  }
};

} // namespace

void mlir::tetra::populateGradientLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbeddingGradLowering, RMSNormGradLowering, LayerNormGradLowering,
               LinearWeightGradLowering, SumLeadingLowering, GeluGradLowering,
               SiluGradLowering, GluGradLowering, AttentionGradLowering,
               CrossEntropyGradLowering, AdamWLowering>(patterns.getContext());
}
