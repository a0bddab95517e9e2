//===- TetraToLinalg.cpp - tetra model ops to linalg on tensors ------------===//
//
// One pattern per op. Shapes must be static (tetra-compile fixes batch and
// sequence); every value is computed in the op's element type.
//
//===----------------------------------------------------------------------===//
#include "LinalgBuilders.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/Support/FileSystem.h"
#include <cmath>

namespace mlir::tetra {
#define GEN_PASS_DEF_CONVERTTETRATOLINALG
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;
using namespace mlir::tetra;

namespace {


//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

struct EmbeddingLowering : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = llvm::cast<RankedTensorType>(op.getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    Value table = op.getTable();
    // A vocabulary shard: ids outside this rank's rows read row 0 and give 0.
    int64_t rows = op.getTable().getType().getDimSize(0);
    VocabShard shard = vocabShard(b, loc, op, op.getVocabAxesAttr(), nullptr, rows);
    Value result = generic(
        b, loc, type, {op.getIndices()}, empty(b, loc, type),
        {dropLast(ctx, rank), identity(ctx, rank)}, parallel(rank),
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value row = indexValue(nb, nl, args[0]), inShard;
          if (shard.offset)
            std::tie(row, inShard) = localIndex(nb, nl, row, shard.offset, rows);
          Value col = linalg::IndexOp::create(nb, nl, rank - 1);
          Value v = tensor::ExtractOp::create(nb, nl, table, ValueRange{row, col});
          if (inShard)
            v = arith::SelectOp::create(nb, nl, inShard, v,
                                        constantFloat(nb, nl, v.getType(), 0.0));
          linalg::YieldOp::create(nb, nl, v);
        });
    b.replaceOp(op, result);
    return success();
  }
};

struct PositionsLowering : OpRewritePattern<PositionsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PositionsOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t offset = op.getOffsetAttr().getInt();
    Value result = generic(
        b, loc, type, {}, empty(b, loc, type), {identity(b.getContext(), 2)},
        parallel(2), [&](OpBuilder &nb, Location nl, ValueRange) {
          Value s = linalg::IndexOp::create(nb, nl, 1);
          Value pos = arith::AddIOp::create(nb, nl, s, constantIndex(nb, nl, offset));
          Value v = arith::IndexCastOp::create(nb, nl, type.getElementType(), pos);
          linalg::YieldOp::create(nb, nl, v);
        });
    b.replaceOp(op, result);
    return success();
  }
};

struct RMSNormLowering : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    Type f = type.getElementType();
    double features = static_cast<double>(type.getShape().back() *
                                          groupSize(op, op.getStatAxesAttr()));
    double eps = op.getEps().convertToDouble();
    bool unitOffset = op.getUnitOffset();
    Value sumsq = reduceSumLast(b, loc, op.getInput(),
                                [](OpBuilder &nb, Location nl, Value x) -> Value {
                                  return arith::MulFOp::create(nb, nl, x, x);
                                });
    sumsq = reduceOver(b, loc, sumsq, op.getStatAxesAttr());
    Value result = generic(
        b, loc, type, {op.getInput(), sumsq, op.getWeight()}, empty(b, loc, type),
        {identity(ctx, rank), dropLast(ctx, rank), suffix(ctx, rank, rank - 1),
         identity(ctx, rank)},
        parallel(rank), [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value mean = arith::DivFOp::create(nb, nl, a[1], constantFloat(nb, nl, f, features));
          Value inv = math::RsqrtOp::create(
              nb, nl, arith::AddFOp::create(nb, nl, mean, constantFloat(nb, nl, f, eps)));
          Value w = a[2];
          if (unitOffset)
            w = arith::AddFOp::create(nb, nl, w, constantFloat(nb, nl, f, 1.0));
          Value y = arith::MulFOp::create(nb, nl, arith::MulFOp::create(nb, nl, a[0], inv), w);
          linalg::YieldOp::create(nb, nl, y);
        });
    b.replaceOp(op, result);
    return success();
  }
};

struct LayerNormLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    Type f = type.getElementType();
    DenseI32ArrayAttr statAxes = op.getStatAxesAttr();
    Value n = constantFloat(
        b, loc, f, static_cast<double>(type.getShape().back() * groupSize(op, statAxes)));
    Value sum = reduceOver(
        b, loc, reduceSumLast(b, loc, op.getInput(), [](OpBuilder &, Location, Value x) { return x; }),
        statAxes);
    // Two passes over x (mean, then variance) as PyTorch does.
    Value mean = generic(b, loc, sum.getType(), {sum}, empty(b, loc, withoutLast(type)),
                         {identity(ctx, rank - 1), identity(ctx, rank - 1)},
                         parallel(rank - 1),
                         [&](OpBuilder &nb, Location nl, ValueRange a) {
                           linalg::YieldOp::create(
                               nb, nl, Value(arith::DivFOp::create(nb, nl, a[0], n)));
                         });
    Value varInit = filled(b, loc, withoutLast(type), 0.0);
    Value var = generic(b, loc, varInit.getType(), {op.getInput(), mean}, varInit,
                        {identity(ctx, rank), dropLast(ctx, rank), dropLast(ctx, rank)},
                        reduceLast(rank), [&](OpBuilder &nb, Location nl, ValueRange a) {
                          Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
                          Value sq = arith::MulFOp::create(nb, nl, d, d);
                          linalg::YieldOp::create(
                              nb, nl, Value(arith::AddFOp::create(nb, nl, a[2], sq)));
                        });
    var = reduceOver(b, loc, var, statAxes);
    double eps = op.getEps().convertToDouble();
    SmallVector<Value> inputs{op.getInput(), mean, var, op.getWeight()};
    SmallVector<AffineMap> maps{identity(ctx, rank), dropLast(ctx, rank),
                                dropLast(ctx, rank), suffix(ctx, rank, rank - 1)};
    if (Value bias = op.getBias()) {
      inputs.push_back(bias);
      maps.push_back(suffix(ctx, rank, rank - 1));
    }
    maps.push_back(identity(ctx, rank));
    bool hasBias = op.getBias() != nullptr;
    Value result = generic(
        b, loc, type, inputs, empty(b, loc, type), maps, parallel(rank),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value varMean = arith::DivFOp::create(nb, nl, a[2], n);
          Value inv = math::RsqrtOp::create(
              nb, nl, arith::AddFOp::create(nb, nl, varMean, constantFloat(nb, nl, f, eps)));
          Value centered = arith::SubFOp::create(nb, nl, a[0], a[1]);
          Value y = arith::MulFOp::create(
              nb, nl, arith::MulFOp::create(nb, nl, centered, inv), a[3]);
          if (hasBias)
            y = arith::AddFOp::create(nb, nl, y, a[4]);
          linalg::YieldOp::create(nb, nl, y);
        });
    b.replaceOp(op, result);
    return success();
  }
};

struct LinearLowering : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto inType = op.getInput().getType();
    auto outType = llvm::cast<RankedTensorType>(op.getType());
    unsigned rank = inType.getRank();
    int64_t k = op.getInFeatures(), n = op.getOutFeatures();
    int64_t m = inType.getNumElements() / k;
    Type f = inType.getElementType();
    // Rows of every leading dimension become one M dimension.
    Value x = op.getInput();
    SmallVector<ReassociationIndices> reassoc;
    if (rank != 2) {
      ReassociationIndices lead;
      for (unsigned i = 0; i + 1 < rank; ++i)
        lead.push_back(i);
      reassoc = {lead, {rank - 1}};
      if (rank == 1)
        reassoc = {{0, 1}};
      x = rank == 1 ? Value(tensor::ExpandShapeOp::create(
                          b, loc, RankedTensorType::get({1, k}, f), x, reassoc))
                    : Value(tensor::CollapseShapeOp::create(b, loc, x, reassoc));
    }
    auto flatType = RankedTensorType::get({m, n}, f);
    Value init;
    if (Value bias = op.getBias())
      init = generic(b, loc, flatType, {bias}, empty(b, loc, flatType),
                     {suffix(ctx, 2, 1), identity(ctx, 2)}, parallel(2),
                     [](OpBuilder &nb, Location nl, ValueRange a) {
                       linalg::YieldOp::create(nb, nl, a[0]);
                     });
    else
      init = filled(b, loc, flatType, 0.0);
    AffineExpr dm = getAffineDimExpr(0, ctx), dn = getAffineDimExpr(1, ctx),
               dk = getAffineDimExpr(2, ctx);
    AffineMap wMap = op.getWeightInOut() ? dims(ctx, 3, {dk, dn}) : dims(ctx, 3, {dn, dk});
    Value y = generic(b, loc, flatType, {x, op.getWeight()}, init,
                      {dims(ctx, 3, {dm, dk}), wMap, dims(ctx, 3, {dm, dn})},
                      {IteratorType::parallel, IteratorType::parallel,
                       IteratorType::reduction},
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        Value p = arith::MulFOp::create(nb, nl, a[0], a[1]);
                        linalg::YieldOp::create(
                            nb, nl, Value(arith::AddFOp::create(nb, nl, a[2], p)));
                      });
    if (rank == 2) {
      b.replaceOp(op, y);
      return success();
    }
    if (rank == 1) {
      b.replaceOpWithNewOp<tensor::CollapseShapeOp>(op, outType, y, reassoc);
      return success();
    }
    b.replaceOpWithNewOp<tensor::ExpandShapeOp>(op, outType, y, reassoc);
    return success();
  }
};

struct RotaryLowering : OpRewritePattern<RotaryOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RotaryOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto type = op.getType();
    Type f = type.getElementType();
    int64_t batch = type.getDimSize(0), seq = type.getDimSize(1);
    int64_t rotated = op.getRotatedDims();
    int64_t half = rotated / 2;
    bool interleaved = op.getStyle() == RotaryStyle::interleaved;
    bool inverse = op.getInverse();
    double base = op.getBase().convertToDouble();
    Value input = op.getInput(), positions = op.getPositions();

    // Angle tables [B, S, rotated/2] (or [S, rotated/2] at positions 0..S-1):
    // pos * inv_freq(i), inv_freq = 1 / base^(2i / rotated), in the element
    // type as Hugging Face computes it; cos and sin once per (position, pair).
    SmallVector<int64_t> tableShape = positions ? SmallVector<int64_t>{batch, seq, half}
                                                : SmallVector<int64_t>{seq, half};
    unsigned tableRank = tableShape.size();
    auto tableType = RankedTensorType::get(tableShape, f);
    auto tables = linalg::GenericOp::create(
        b, loc, TypeRange{tableType, tableType}, ValueRange{},
        ValueRange{empty(b, loc, tableType), empty(b, loc, tableType)},
        {identity(ctx, tableRank), identity(ctx, tableRank)}, parallel(tableRank),
        [&](OpBuilder &nb, Location nl, ValueRange) {
          auto toFloat = [&](Value index) -> Value {
            return arith::UIToFPOp::create(
                nb, nl, f, arith::IndexCastUIOp::create(nb, nl, nb.getI64Type(), index));
          };
          Value pair = linalg::IndexOp::create(nb, nl, tableRank - 1);
          Value pos;
          if (positions) {
            Value bi = linalg::IndexOp::create(nb, nl, 0);
            Value si = linalg::IndexOp::create(nb, nl, 1);
            pos = indexValue(nb, nl,
                             tensor::ExtractOp::create(nb, nl, positions, ValueRange{bi, si}));
          } else {
            pos = linalg::IndexOp::create(nb, nl, 0);
          }
          Value exponent = arith::DivFOp::create(
              nb, nl,
              arith::MulFOp::create(nb, nl, toFloat(pair), constantFloat(nb, nl, f, 2.0)),
              constantFloat(nb, nl, f, static_cast<double>(rotated)));
          Value invFreq = arith::DivFOp::create(
              nb, nl, constantFloat(nb, nl, f, 1.0),
              math::PowFOp::create(nb, nl, constantFloat(nb, nl, f, base), exponent));
          Value angle = arith::MulFOp::create(nb, nl, toFloat(pos), invFreq);
          Value sinv = math::SinOp::create(nb, nl, angle);
          if (inverse)
            sinv = arith::NegFOp::create(nb, nl, sinv);
          linalg::YieldOp::create(nb, nl, ValueRange{math::CosOp::create(nb, nl, angle), sinv});
        });
    Value cosTable = tables.getResult(0), sinTable = tables.getResult(1);

    Value result = generic(
        b, loc, type, {}, empty(b, loc, type), {identity(ctx, 4)}, parallel(4),
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value bi = linalg::IndexOp::create(nb, nl, 0);
          Value si = linalg::IndexOp::create(nb, nl, 1);
          Value hi = linalg::IndexOp::create(nb, nl, 2);
          Value di = linalg::IndexOp::create(nb, nl, 3);
          auto cmp = [&](arith::CmpIPredicate p, Value l, Value r) {
            return arith::CmpIOp::create(nb, nl, p, l, r);
          };
          auto sel = [&](Value c, Value t, Value e) {
            return arith::SelectOp::create(nb, nl, c, t, e);
          };
          Value zero = constantIndex(nb, nl, 0);
          Value cRot = constantIndex(nb, nl, rotated), cHalf = constantIndex(nb, nl, half);
          Value inRot = cmp(arith::CmpIPredicate::ult, di, cRot);
          Value pair, partner, first;
          if (interleaved) {
            // Pairs (2i, 2i+1), the complex-number form.
            Value two = constantIndex(nb, nl, 2), one = constantIndex(nb, nl, 1);
            pair = arith::DivUIOp::create(nb, nl, di, two);
            Value odd = arith::RemUIOp::create(nb, nl, di, two);
            first = cmp(arith::CmpIPredicate::eq, odd, zero);
            partner = sel(first, arith::AddIOp::create(nb, nl, di, one),
                          arith::SubIOp::create(nb, nl, di, one));
          } else {
            // Pairs (i, i + rotated/2): "rotate half".
            first = cmp(arith::CmpIPredicate::ult, di, cHalf);
            pair = sel(first, di, arith::SubIOp::create(nb, nl, di, cHalf));
            partner = sel(first, arith::AddIOp::create(nb, nl, di, cHalf),
                          arith::SubIOp::create(nb, nl, di, cHalf));
          }
          // Channels past the rotated ones pass through (and read in bounds).
          partner = sel(inRot, partner, di);
          pair = sel(inRot, pair, zero);
          SmallVector<Value> at = positions ? SmallVector<Value>{bi, si, pair}
                                            : SmallVector<Value>{si, pair};
          Value cosv = tensor::ExtractOp::create(nb, nl, cosTable, at);
          Value sinv = tensor::ExtractOp::create(nb, nl, sinTable, at);
          Value x = tensor::ExtractOp::create(nb, nl, input, ValueRange{bi, si, hi, di});
          Value xp = tensor::ExtractOp::create(nb, nl, input, ValueRange{bi, si, hi, partner});
          Value xc = arith::MulFOp::create(nb, nl, x, cosv);
          Value ps = arith::MulFOp::create(nb, nl, xp, sinv);
          Value rotatedValue = sel(first, arith::SubFOp::create(nb, nl, xc, ps),
                                   arith::AddFOp::create(nb, nl, xc, ps));
          linalg::YieldOp::create(nb, nl, Value(sel(inRot, rotatedValue, x)));
        });
    b.replaceOp(op, result);
    return success();
  }
};

/// Unary elementwise ops and their scalar formulas.
template <typename OpTy>
struct ElementwiseLowering : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  virtual Value scalar(OpTy op, OpBuilder &b, Location loc, ValueRange args) const = 0;

  LogicalResult matchAndRewrite(OpTy op, PatternRewriter &b) const override {
    auto type = llvm::cast<RankedTensorType>(op.getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = b.getContext();
    SmallVector<Value> inputs(op->getOperands());
    SmallVector<AffineMap> maps;
    for (Value in : inputs)
      maps.push_back(suffix(ctx, rank,
                            rank - llvm::cast<RankedTensorType>(in.getType()).getRank()));
    maps.push_back(identity(ctx, rank));
    Value result = generic(b, op.getLoc(), type, inputs, empty(b, op.getLoc(), type),
                           maps, parallel(rank),
                           [&](OpBuilder &nb, Location nl, ValueRange a) {
                             linalg::YieldOp::create(nb, nl, scalar(op, nb, nl, a));
                           });
    b.replaceOp(op, result);
    return success();
  }
};

struct GeluLowering : ElementwiseLowering<GeluOp> {
  using ElementwiseLowering::ElementwiseLowering;
  Value scalar(GeluOp op, OpBuilder &b, Location loc, ValueRange a) const override {
    return geluScalar(b, loc, a[0], op.getApproximate() == GeluApprox::tanh);
  }
};

struct SiluLowering : ElementwiseLowering<SiluOp> {
  using ElementwiseLowering::ElementwiseLowering;
  Value scalar(SiluOp, OpBuilder &b, Location loc, ValueRange a) const override {
    return siluScalar(b, loc, a[0]);
  }
};

struct GluLowering : ElementwiseLowering<GluOp> {
  using ElementwiseLowering::ElementwiseLowering;
  Value scalar(GluOp op, OpBuilder &b, Location loc, ValueRange a) const override {
    Value act = op.getActivation() == GluActivation::silu
                    ? siluScalar(b, loc, a[0])
                    : geluScalar(b, loc, a[0],
                                 op.getActivation() == GluActivation::gelu_tanh);
    return arith::MulFOp::create(b, loc, act, a[1]);
  }
};

struct AddLowering : ElementwiseLowering<AddOp> {
  using ElementwiseLowering::ElementwiseLowering;
  Value scalar(AddOp, OpBuilder &b, Location loc, ValueRange a) const override {
    return arith::AddFOp::create(b, loc, a[0], a[1]);
  }
};

struct ScaleLowering : ElementwiseLowering<ScaleOp> {
  using ElementwiseLowering::ElementwiseLowering;
  Value scalar(ScaleOp op, OpBuilder &b, Location loc, ValueRange a) const override {
    return arith::MulFOp::create(
        b, loc, a[0],
        constantFloat(b, loc, a[0].getType(), op.getFactor().convertToDouble()));
  }
};

struct AttentionLowering : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    std::optional<int64_t> window;
    if (IntegerAttr w = op.getWindowAttr())
      window = w.getInt();
    std::optional<double> scale;
    if (op.getScale())
      scale = op.getScale()->convertToDouble();
    Value probs = attentionProbabilities(b, loc, op.getQuery(), op.getKey(),
                                         op.getCausal(), window, scale, op.getQueryPosition());
    // out[b, :, h, :] = probs[b, h] v[b, :, h / group, :], one GEMM per head.
    int64_t group = op.getQuery().getType().getDimSize(2) /
                    op.getKey().getType().getDimSize(2);
    auto outType = op.getType();
    Value cGroup = constantIndex(b, loc, group);
    Value value = op.getValue();
    Value out = forEachHead(
        b, loc, outType.getDimSize(0), outType.getDimSize(2), filled(b, loc, outType, 0.0),
        [&](OpBuilder &nb, Location nl, Value bi, Value hi, Value acc) -> Value {
          Value kvHead = arith::DivUIOp::create(nb, nl, hi, cGroup);
          Value ps = slice2D(nb, nl, probs, {2, 3}, {bi, hi});
          Value vs = slice2D(nb, nl, value, {1, 3}, {bi, kvHead});
          Value os = slice2D(nb, nl, acc, {1, 3}, {bi, hi});
          return insert2D(nb, nl, gemm2D(nb, nl, ps, false, vs, false, os), acc, {1, 3},
                          {bi, hi});
        });
    (void)ctx;
    b.replaceOp(op, out);
    return success();
  }
};

constexpr int64_t kFlashAttentionMaxHeadDim = 128;

/// Whether the flash-attention kernels take attention of these shapes.
LogicalResult flashAttentionFits(PatternRewriter &b, Operation *op, RankedTensorType q,
                                 RankedTensorType k, RankedTensorType v, bool loki,
                                 bool queryPosition) {
  for (RankedTensorType t : {q, k, v})
    if (!t.hasStaticShape() || !t.getElementType().isF32())
      return b.notifyMatchFailure(op, "needs static f32 shapes");
  // Tiles of 64 rows of head_dim + 8 bf16 must fit the 48 KiB of static
  // shared memory (64 KiB of LDS on AMD).
  int64_t headDim = q.getDimSize(3);
  if (loki || headDim % 16 != 0 || headDim > kFlashAttentionMaxHeadDim)
    return b.notifyMatchFailure(op, "head_dim a multiple of 16 up to 128, no Loki");
  // Without a query position, query s sits at T - S + s: the kernels'
  // unsigned positions need T >= S.
  if (!queryPosition && k.getDimSize(1) < q.getDimSize(1))
    return b.notifyMatchFailure(op, "fewer keys than queries");
  return success();
}

/// A read-only buffer of tensor `t`.
Value readBuffer(OpBuilder &b, Location loc, Value t) {
  auto type = llvm::cast<RankedTensorType>(t.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), t, /*read_only=*/true);
}

Value allocLike(OpBuilder &b, Location loc, ArrayRef<int64_t> shape) {
  return memref::AllocOp::create(b, loc, MemRefType::get(shape, b.getF32Type()));
}

/// The tensor that takes over the fresh buffer `m`.
Value adopt(OpBuilder &b, Location loc, Value m) {
  auto type = llvm::cast<MemRefType>(m.getType());
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(type.getShape(), type.getElementType()), m,
      /*restrict=*/true, /*writable=*/true);
}

/// Read-only buffers of attention's query, key and value.
struct AttentionBuffers {
  Value query, key, value;
};

template <typename Op> AttentionBuffers readAttentionBuffers(OpBuilder &b, Op op) {
  Location loc = op.getLoc();
  return {readBuffer(b, loc, op.getQuery()), readBuffer(b, loc, op.getKey()),
          readBuffer(b, loc, op.getValue())};
}

/// On GPUs, attention as one fused kernel: the op on buffers, which
/// bufferization passes through (its operands are read-only buffers of the
/// tensors, its result a fresh buffer the tensor takes over).
struct FlashAttentionLowering : OpRewritePattern<AttentionOp> {
  FlashAttentionLowering(MLIRContext *ctx) : OpRewritePattern(ctx, /*benefit=*/2) {}
  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &b) const override {
    RankedTensorType q = op.getQuery().getType();
    if (failed(flashAttentionFits(b, op, q, op.getKey().getType(), op.getValue().getType(),
                                  static_cast<bool>(op.getLoki()),
                                  static_cast<bool>(op.getQueryPosition()))))
      return failure();
    Location loc = op.getLoc();
    AttentionBuffers in = readAttentionBuffers(b, op);
    Value out = allocLike(b, loc, q.getShape());
    FlashAttentionOp::create(b, loc, in.query, in.key, in.value, out, /*logsumexp=*/Value(),
                             op.getQueryPosition(),
                             op.getCausalAttr(), op.getWindowAttr(), op.getScaleAttr());
    b.replaceOp(op, adopt(b, loc, out));
    return success();
  }
};

/// Whether attention's flash kernels take this gradient.
LogicalResult flashAttentionGradFits(PatternRewriter &b, AttentionGradOp op) {
  if (failed(flashAttentionFits(b, op, op.getQuery().getType(), op.getKey().getType(),
                                op.getValue().getType(), false, false)))
    return failure();
  if (!op.getGrad().getType().hasStaticShape())
    return b.notifyMatchFailure(op, "needs a static output gradient");
  return success();
}

/// The forward kernel of `op`'s attention into fresh buffers: the output
/// tensor and, for the backward, each row's log-sum-exp.
template <typename Op>
std::pair<Value, Value> flashForwardWithLogSumExp(OpBuilder &b, Op op, AttentionBuffers in) {
  Location loc = op.getLoc();
  RankedTensorType q = op.getQuery().getType();
  Value out = allocLike(b, loc, q.getShape()), lse = allocLike(b, loc, q.getShape().drop_back());
  FlashAttentionOp::create(b, loc, in.query, in.key, in.value, out, lse,
                           /*query_position=*/Value(), op.getCausalAttr(), op.getWindowAttr(),
                           op.getScaleAttr());
  return {adopt(b, loc, out), lse};
}

/// FlashAttention-2's backward of `op` from the forward's output tensor and
/// its log-sum-exp buffer: delta = rowsum(grad * output) is one row
/// reduction, and the backward kernels recompute the probabilities tile by
/// tile from those.
void lowerFlashAttentionGrad(PatternRewriter &b, AttentionGradOp op, AttentionBuffers in,
                             Value out, Value lse) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  RankedTensorType q = op.getQuery().getType(), k = op.getKey().getType();
  auto rowType = RankedTensorType::get(q.getShape().drop_back(), b.getF32Type());
  AffineMap id4 = identity(ctx, 4), row4 = dropLast(ctx, 4);
  Value delta = generic(b, loc, rowType, {op.getGrad(), out}, filled(b, loc, rowType, 0.0),
                        {id4, id4, row4}, reduceLast(4),
                        [](OpBuilder &nb, Location nl, ValueRange a) {
                          Value product = arith::MulFOp::create(nb, nl, a[0], a[1]);
                          Value sum = arith::AddFOp::create(nb, nl, a[2], product);
                          linalg::YieldOp::create(nb, nl, sum);
                        });
  Value dQ = allocLike(b, loc, q.getShape()), dK = allocLike(b, loc, k.getShape()),
        dV = allocLike(b, loc, k.getShape());
  Value gradm = readBuffer(b, loc, op.getGrad()), deltam = readBuffer(b, loc, delta);
  FlashAttentionGradOp::create(b, loc, in.query, in.key, in.value, gradm, lse, deltam, dQ, dK,
                               dV, op.getCausalAttr(), op.getWindowAttr(), op.getScaleAttr());
  b.replaceOp(op, {adopt(b, loc, dQ), adopt(b, loc, dK), adopt(b, loc, dV)});
}

/// The attention in `grad`'s block, before it, whose gradients `grad`
/// takes: the same query, key, value, masks and scale.
AttentionOp forwardOf(AttentionGradOp grad) {
  for (Operation *user : grad.getQuery().getUsers()) {
    auto forward = llvm::dyn_cast<AttentionOp>(user);
    if (forward && forward->getBlock() == grad->getBlock() &&
        forward->isBeforeInBlock(grad) && forward.getKey() == grad.getKey() &&
        forward.getValue() == grad.getValue() && !forward.getLoki() &&
        !forward.getQueryPosition() && forward.getCausal() == grad.getCausal() &&
        forward.getWindowAttr() == grad.getWindowAttr() &&
        forward.getScaleAttr() == grad.getScaleAttr())
      return forward;
  }
  return {};
}

/// On GPUs, attention and the gradients taken of it in the same function
/// share the forward kernel: it writes each row's log-sum-exp next to the
/// output, and the backward reuses both instead of running the forward
/// again. Runs before the patterns, which lower the rest one op at a time.
void lowerFlashAttentionPairs(ModuleOp module) {
  SmallVector<AttentionGradOp> grads;
  module.walk([&](AttentionGradOp grad) { grads.push_back(grad); });
  PatternRewriter b(module.getContext());
  for (AttentionGradOp grad : grads) {
    AttentionOp forward = forwardOf(grad);
    if (!forward || failed(flashAttentionGradFits(b, grad)))
      continue;
    b.setInsertionPoint(forward);
    AttentionBuffers in = readAttentionBuffers(b, forward);
    auto [output, lse] = flashForwardWithLogSumExp(b, forward, in);
    b.replaceOp(forward, output);
    // The backward's reads of q, k and v happen here: bufferization must
    // see them here.
    b.setInsertionPoint(grad);
    lowerFlashAttentionGrad(b, grad, readAttentionBuffers(b, grad), output, lse);
  }
}

/// On GPUs, attention's gradients without their forward at hand: the
/// forward kernel runs again for the output and each row's log-sum-exp.
struct FlashAttentionGradLowering : OpRewritePattern<AttentionGradOp> {
  FlashAttentionGradLowering(MLIRContext *ctx) : OpRewritePattern(ctx, /*benefit=*/2) {}
  LogicalResult matchAndRewrite(AttentionGradOp op, PatternRewriter &b) const override {
    if (failed(flashAttentionGradFits(b, op)))
      return failure();
    AttentionBuffers in = readAttentionBuffers(b, op);
    auto [output, lse] = flashForwardWithLogSumExp(b, op, in);
    lowerFlashAttentionGrad(b, op, in, output, lse);
    return success();
  }
};

struct GoldfishMaskLowering : OpRewritePattern<GoldfishMaskOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GoldfishMaskOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    Type f = b.getF32Type();
    FailureOr<Value> keptOrError =
        keptMask(b, loc, op, op.getTargets(), std::nullopt, op.getGoldfish(), f);
    if (failed(keptOrError))
      return failure();
    Value kept = *keptOrError;
    unsigned rank = op.getType().getRank();
    MLIRContext *ctx = b.getContext();
    // dropped = 1 - kept
    Value dropped = generic(b, loc, op.getType(), {kept}, empty(b, loc, op.getType()),
                            {identity(ctx, rank), identity(ctx, rank)}, parallel(rank),
                            [&](OpBuilder &nb, Location nl, ValueRange a) {
                              linalg::YieldOp::create(
                                  nb, nl,
                                  Value(arith::SubFOp::create(
                                      nb, nl, constantFloat(nb, nl, f, 1.0), a[0])));
                            });
    b.replaceOp(op, dropped);
    return success();
  }
};

struct CrossEntropyLowering : OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    auto logitsType = op.getLogits().getType();
    Type f = logitsType.getElementType();
    // Flatten to [rows, V] and [rows].
    Value logits = flattenRows(b, loc, op.getLogits());
    Value targets = flattenAll(b, loc, op.getTargets());
    VocabShard shard = vocabShard(b, loc, op, op.getVocabAxesAttr(), op.getVocabSizeAttr(),
                                  logitsType.getShape().back());
    RowLogSumExp stats = rowLogSumExp(b, loc, logits, shard, targets);
    Value rowMax = stats.max, sumExp = stats.sumExp, picked = stats.picked;
    // Sum of the kept rows' losses and their count, in one reduction.
    auto scalarType = RankedTensorType::get({}, f);
    FailureOr<Value> keptOrError = keptMask(b, loc, op, op.getTargets(),
                                            op.getIgnoreIndexAttr().getInt(),
                                            op.getGoldfishAttr(), f);
    if (failed(keptOrError))
      return failure();
    Value keptMaskFlat = flattenAll(b, loc, *keptOrError);
    Value lossSum = filled(b, loc, scalarType, 0.0);
    Value kept = filled(b, loc, scalarType, 0.0);
    AffineMap rowId = identity(ctx, 1), toScalar = AffineMap::get(1, 0, {}, ctx);
    auto totals = linalg::GenericOp::create(
        b, loc, TypeRange{scalarType, scalarType},
        ValueRange{picked, rowMax, sumExp, keptMaskFlat}, ValueRange{lossSum, kept},
        {rowId, rowId, rowId, rowId, toScalar, toScalar}, {IteratorType::reduction},
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value keep = a[3];
          Value isKept = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::ONE, keep,
                                               constantFloat(nb, nl, f, 0.0));
          Value lse = arith::AddFOp::create(nb, nl, math::LogOp::create(nb, nl, a[2]), a[1]);
          Value loss = arith::SubFOp::create(nb, nl, lse, a[0]);
          Value addLoss = arith::SelectOp::create(nb, nl, isKept, loss,
                                                  constantFloat(nb, nl, f, 0.0));
          linalg::YieldOp::create(nb, nl,
                                  ValueRange{arith::AddFOp::create(nb, nl, a[4], addLoss),
                                             arith::AddFOp::create(nb, nl, a[5], keep)});
        });
    // Rows split over the grid: the whole micro-batch's sum and count.
    Value totalLoss = reduceOver(b, loc, totals.getResult(0), op.getRowAxesAttr());
    Value totalKept = reduceOver(b, loc, totals.getResult(1), op.getRowAxesAttr());
    Value mean = generic(
        b, loc, scalarType, {totalLoss, totalKept},
        empty(b, loc, scalarType), {AffineMap::get(0, 0, {}, ctx), AffineMap::get(0, 0, {}, ctx),
                                    AffineMap::get(0, 0, {}, ctx)},
        {}, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value count = arith::MaximumFOp::create(nb, nl, a[1], constantFloat(nb, nl, f, 1.0));
          linalg::YieldOp::create(nb, nl, Value(arith::DivFOp::create(nb, nl, a[0], count)));
        });
    if (mean.getType() != op.getType())
      mean = arith::TruncFOp::create(b, loc, op.getType(), mean);
    b.replaceOp(op, mean);
    return success();
  }
};

/// Forward, a fan-out is the identity (tetra-autodiff used its gradient rule).
struct FanOutLowering : OpRewritePattern<FanOutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FanOutOp op, PatternRewriter &b) const override {
    b.replaceOp(op, op.getInput());
    return success();
  }
};

} // namespace

void mlir::tetra::populateForwardLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbeddingLowering, PositionsLowering, RMSNormLowering, LayerNormLowering,
               LinearLowering, RotaryLowering, GeluLowering, SiluLowering, GluLowering,
               AddLowering, ScaleLowering, AttentionLowering, CrossEntropyLowering,
               GoldfishMaskLowering, FanOutLowering>(
      patterns.getContext());
}

namespace {

struct ConvertTetraToLinalgPass
    : tetra::impl::ConvertTetraToLinalgBase<ConvertTetraToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ModuleOp module = getOperation();
    // Say what cannot be lowered before trying: static shapes only
    // (tetra-compile fixes batch and sequence), and not every op yet.
    WalkResult checked = module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (!llvm::isa<TetraDialect>(op->getDialect()) || llvm::isa<ParamOp>(op))
        return WalkResult::advance();
      if (!llvm::isa<EmbeddingOp, PositionsOp, RMSNormOp, LayerNormOp, LinearOp,
                     RotaryOp, GeluOp, SiluOp, GluOp, AddOp, ScaleOp, AttentionOp,
                     CrossEntropyOp, GoldfishMaskOp, EmbeddingGradOp, RMSNormGradOp, LayerNormGradOp,
                     LinearWeightGradOp, SumLeadingOp, GeluGradOp, SiluGradOp,
                     GluGradOp, AttentionGradOp, CrossEntropyGradOp, AdamWOp, FanOutOp,
                     AllReduceOp, AllGatherOp, ReduceScatterOp, AllReduceStartOp,
                     AllGatherStartOp, ReduceScatterStartOp, WaitOp>(op)) {
        op->emitError("'") << op->getName() << "' has no CPU lowering yet";
        return WalkResult::interrupt();
      }
      if (auto attention = llvm::dyn_cast<AttentionOp>(op); attention && attention.getLoki()) {
        op->emitError("Loki attention has no CPU lowering yet");
        return WalkResult::interrupt();
      }
      // A goldfish table is read while lowering: say up front when it cannot be.
      GoldfishAttr goldfish;
      if (auto ce = llvm::dyn_cast<CrossEntropyOp>(op))
        goldfish = ce.getGoldfishAttr();
      if (auto grad = llvm::dyn_cast<CrossEntropyGradOp>(op))
        goldfish = grad.getGoldfishAttr();
      if (auto mask = llvm::dyn_cast<GoldfishMaskOp>(op))
        goldfish = mask.getGoldfish();
      if (goldfish && goldfish.getMode() == GoldfishMode::Table) {
        uint64_t size = 0;
        if (std::error_code ec = llvm::sys::fs::file_size(goldfish.getTable(), size)) {
          op->emitError("goldfish table '") << goldfish.getTable()
                                            << "' cannot be read: " << ec.message();
          return WalkResult::interrupt();
        }
        if (size != static_cast<uint64_t>(kGoldfishTableSize) * 4) {
          op->emitError("goldfish table '")
              << goldfish.getTable() << "' has " << size << " bytes; it must hold "
              << kGoldfishTableSize << " little-endian f32 values ("
              << kGoldfishTableSize * 4 << " bytes)";
          return WalkResult::interrupt();
        }
      }
      for (Type t : op->getResultTypes())
        if (auto shaped = llvm::dyn_cast<RankedTensorType>(t);
            shaped && !shaped.hasStaticShape()) {
          op->emitError("needs static shapes to be lowered; got ") << t;
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (checked.wasInterrupted())
      return signalPassFailure();

    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect, scf::SCFDialect,
                           func::FuncDialect>();
    target.addIllegalDialect<TetraDialect>();
    // Collectives stay until bufferization turns them into runtime calls.
    target.addLegalOp<ParamOp, AllReduceOp, AllGatherOp, ReduceScatterOp, AllReduceStartOp,
                      AllGatherStartOp, ReduceScatterStartOp, WaitOp>();
    target.addLegalDialect<bufferization::BufferizationDialect, memref::MemRefDialect>();
    target.addLegalOp<FlashAttentionOp, FlashAttentionGradOp>();
    if (flashAttention)
      lowerFlashAttentionPairs(module);
    RewritePatternSet patterns(ctx);
    if (flashAttention)
      patterns.add<FlashAttentionLowering, FlashAttentionGradLowering>(ctx);
    populateForwardLoweringPatterns(patterns);
    populateGradientLoweringPatterns(patterns);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
