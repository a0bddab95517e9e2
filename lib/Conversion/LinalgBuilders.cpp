//===- LinalgBuilders.cpp - building blocks of the tetra lowerings ---------===//
#include "LinalgBuilders.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>
#include <cstring>

namespace mlir::tetra {


Value constantFloat(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, FloatAttr::get(type, value));
}

Value constantIndex(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// A tensor of `type` filled with `value`.
Value filled(OpBuilder &b, Location loc, RankedTensorType type, double value) {
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  Value scalar = constantFloat(b, loc, type.getElementType(), value);
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty})
      .getResult(0);
}

Value empty(OpBuilder &b, Location loc, RankedTensorType type) {
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
}

AffineMap identity(MLIRContext *ctx, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx);
}

/// (d0, ..., d{rank-1}) -> (d{first}, ..., d{rank-1}): a trailing-dims broadcast.
AffineMap suffix(MLIRContext *ctx, unsigned rank, unsigned first) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = first; i < rank; ++i)
    exprs.push_back(getAffineDimExpr(i, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// (d0, ..., d{rank-1}) -> (d0, ..., d{rank-2}): the row of a last-dim reduction.
AffineMap dropLast(MLIRContext *ctx, unsigned rank) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i + 1 < rank; ++i)
    exprs.push_back(getAffineDimExpr(i, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

AffineMap dims(MLIRContext *ctx, unsigned rank, ArrayRef<AffineExpr> exprs) {
  return AffineMap::get(rank, 0, exprs, ctx);
}

SmallVector<IteratorType> parallel(unsigned rank) {
  return SmallVector<IteratorType>(rank, IteratorType::parallel);
}

/// Parallel over all but the last dim, which is reduced.
SmallVector<IteratorType> reduceLast(unsigned rank) {
  SmallVector<IteratorType> it = parallel(rank);
  it.back() = IteratorType::reduction;
  return it;
}

Value generic(OpBuilder &b, Location loc, Type result, ValueRange inputs,
              Value output, ArrayRef<AffineMap> maps,
              ArrayRef<IteratorType> iterators, BodyFn body) {
  return linalg::GenericOp::create(b, loc, TypeRange{result}, inputs,
                                   ValueRange{output}, maps, iterators, body)
      .getResult(0);
}

RankedTensorType withoutLast(RankedTensorType type) {
  return RankedTensorType::get(type.getShape().drop_back(), type.getElementType());
}

/// Sum over the last dimension of f(x) (f given on the scalar).
Value reduceSumLast(OpBuilder &b, Location loc, Value x,
                    function_ref<Value(OpBuilder &, Location, Value)> f) {
  auto type = llvm::cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  Value init = filled(b, loc, withoutLast(type), 0.0);
  return generic(b, loc, init.getType(), {x}, init,
                 {identity(ctx, rank), dropLast(ctx, rank)}, reduceLast(rank),
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   Value v = f(nb, nl, args[0]);
                   Value sum = arith::AddFOp::create(nb, nl, args[1], v);
                   linalg::YieldOp::create(nb, nl, sum);
                 });
}

Value indexValue(OpBuilder &b, Location loc, Value integer) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), integer);
}

Value geluScalar(OpBuilder &b, Location loc, Value x, bool tanhApprox) {
  Type f = x.getType();
  Value half = constantFloat(b, loc, f, 0.5), one = constantFloat(b, loc, f, 1.0);
  Value inner;
  if (tanhApprox) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value x3 = arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, x, x), x);
    Value poly = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, constantFloat(b, loc, f, 0.044715), x3));
    inner = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, constantFloat(b, loc, f, std::sqrt(2.0 / M_PI)), poly));
  } else {
    // 0.5 x (1 + erf(x / sqrt(2)))
    inner = math::ErfOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, constantFloat(b, loc, f, M_SQRT1_2)));
  }
  return arith::MulFOp::create(
      b, loc, arith::MulFOp::create(b, loc, half, x),
      arith::AddFOp::create(b, loc, one, inner));
}

Value siluScalar(OpBuilder &b, Location loc, Value x) {
  Type f = x.getType();
  Value one = constantFloat(b, loc, f, 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, x, arith::AddFOp::create(b, loc, one, e));
}

Value geluDerivative(OpBuilder &b, Location loc, Value x, bool tanhApprox) {
  Type f = x.getType();
  Value half = constantFloat(b, loc, f, 0.5), one = constantFloat(b, loc, f, 1.0);
  if (tanhApprox) {
    // u = c (x + a x^3), t = tanh(u):
    // d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)
    double c = std::sqrt(2.0 / M_PI), a = 0.044715;
    Value x2 = arith::MulFOp::create(b, loc, x, x);
    Value poly = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, constantFloat(b, loc, f, a),
                                         arith::MulFOp::create(b, loc, x2, x)));
    Value t = math::TanhOp::create(
        b, loc, arith::MulFOp::create(b, loc, constantFloat(b, loc, f, c), poly));
    Value dpoly = arith::AddFOp::create(
        b, loc, one, arith::MulFOp::create(b, loc, constantFloat(b, loc, f, 3 * a), x2));
    Value sech2 = arith::SubFOp::create(b, loc, one, arith::MulFOp::create(b, loc, t, t));
    Value left = arith::MulFOp::create(b, loc, half, arith::AddFOp::create(b, loc, one, t));
    Value right = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, half, x),
        arith::MulFOp::create(
            b, loc, sech2, arith::MulFOp::create(b, loc, constantFloat(b, loc, f, c), dpoly)));
    return arith::AddFOp::create(b, loc, left, right);
  }
  // 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
  Value cdf = arith::MulFOp::create(
      b, loc, half,
      arith::AddFOp::create(
          b, loc, one,
          math::ErfOp::create(
              b, loc, arith::MulFOp::create(b, loc, x, constantFloat(b, loc, f, M_SQRT1_2)))));
  Value pdf = arith::MulFOp::create(
      b, loc, constantFloat(b, loc, f, 1.0 / std::sqrt(2.0 * M_PI)),
      math::ExpOp::create(
          b, loc,
          arith::MulFOp::create(b, loc, constantFloat(b, loc, f, -0.5),
                                arith::MulFOp::create(b, loc, x, x))));
  return arith::AddFOp::create(b, loc, cdf, arith::MulFOp::create(b, loc, x, pdf));
}

Value siluDerivative(OpBuilder &b, Location loc, Value x) {
  // s (1 + x (1 - s)), s = sigmoid(x)
  Type f = x.getType();
  Value one = constantFloat(b, loc, f, 1.0);
  Value s = arith::DivFOp::create(
      b, loc, one,
      arith::AddFOp::create(b, loc, one,
                            math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x))));
  return arith::MulFOp::create(
      b, loc, s,
      arith::AddFOp::create(
          b, loc, one, arith::MulFOp::create(b, loc, x, arith::SubFOp::create(b, loc, one, s))));
}

SmallVector<IteratorType> reduceLeading(unsigned rank, unsigned kept) {
  SmallVector<IteratorType> it(rank, IteratorType::reduction);
  for (unsigned i = rank - kept; i < rank; ++i)
    it[i] = IteratorType::parallel;
  return it;
}

Value reduceSumLeading(OpBuilder &b, Location loc, Value x, RankedTensorType result) {
  auto type = llvm::cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank(), kept = result.getRank();
  MLIRContext *ctx = b.getContext();
  return generic(b, loc, result, {x}, filled(b, loc, result, 0.0),
                 {identity(ctx, rank), suffix(ctx, rank, rank - kept)},
                 reduceLeading(rank, kept), [](OpBuilder &nb, Location nl, ValueRange a) {
                   linalg::YieldOp::create(
                       nb, nl, Value(arith::AddFOp::create(nb, nl, a[1], a[0])));
                 });
}

Value flattenAll(OpBuilder &b, Location loc, Value x) {
  auto type = llvm::cast<RankedTensorType>(x.getType());
  if (type.getRank() == 1)
    return x;
  ReassociationIndices all;
  for (unsigned i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return tensor::CollapseShapeOp::create(b, loc, x, ArrayRef<ReassociationIndices>{all});
}

Value VocabShard::global(OpBuilder &b, Location loc, Value col) const {
  return offset ? Value(arith::AddIOp::create(b, loc, col, offset)) : col;
}

Value VocabShard::isReal(OpBuilder &b, Location loc, Value globalCol) const {
  if (!vocabSize)
    return arith::ConstantIntOp::create(b, loc, 1, 1);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, globalCol,
                               constantIndex(b, loc, *vocabSize));
}

std::pair<Value, Value> localIndex(OpBuilder &b, Location loc, Value id, Value offset,
                                   int64_t size) {
  Value local = offset ? Value(arith::SubIOp::create(b, loc, id, offset)) : id;
  Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, local,
                                       constantIndex(b, loc, size));
  return {arith::SelectOp::create(b, loc, inside, local, constantIndex(b, loc, 0)), inside};
}

VocabShard vocabShard(OpBuilder &b, Location loc, Operation *op, DenseI32ArrayAttr axes,
                      IntegerAttr vocabSize, int64_t localColumns) {
  VocabShard shard;
  if (!axes)
    return shard;
  shard.axes = axes;
  shard.offset = arith::MulIOp::create(b, loc, shardIndex(b, loc, op, axes.asArrayRef()),
                                       constantIndex(b, loc, localColumns));
  if (vocabSize)
    shard.vocabSize = vocabSize.getInt();
  return shard;
}

Value rescaledSum(OpBuilder &b, Location loc, Value sum, Value max, Value newMax) {
  // Equal maxima need no rescaling, which keeps two empty partials
  // (-inf, 0) from making exp(-inf - -inf) = NaN.
  Value same = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, max, newMax);
  Value scaled = arith::MulFOp::create(
      b, loc, sum, math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, max, newMax)));
  return arith::SelectOp::create(b, loc, same, sum, scaled);
}

RowLogSumExp rowLogSumExp(OpBuilder &b, Location loc, Value logits, const VocabShard &shard,
                          Value targets) {
  MLIRContext *ctx = b.getContext();
  auto type = llvm::cast<RankedTensorType>(logits.getType());
  Type f = type.getElementType();
  auto rowType = withoutLast(type);
  AffineMap id2 = identity(ctx, 2), row2 = dropLast(ctx, 2);
  Value maxInit = linalg::FillOp::create(b, loc, ValueRange{constantFloat(b, loc, f, -INFINITY)},
                                         ValueRange{empty(b, loc, rowType)})
                      .getResult(0);
  SmallVector<Value> inputs{logits}, inits{maxInit, filled(b, loc, rowType, 0.0)};
  SmallVector<AffineMap> maps{id2};
  if (targets) {
    inputs.push_back(targets);
    maps.push_back(row2);
    inits.push_back(filled(b, loc, rowType, 0.0));
  }
  maps.append(inits.size(), row2);
  SmallVector<Type> results(inits.size(), rowType);
  auto pass = linalg::GenericOp::create(
      b, loc, results, inputs, inits, maps, reduceLast(2),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value x = a[0];
        unsigned out = inputs.size();
        Value max = a[out], sum = a[out + 1];
        Value newMax = arith::MaximumFOp::create(nb, nl, max, x);
        Value newSum = arith::AddFOp::create(
            nb, nl, rescaledSum(nb, nl, sum, max, newMax),
            math::ExpOp::create(nb, nl, arith::SubFOp::create(nb, nl, x, newMax)));
        Value col = shard.global(nb, nl, linalg::IndexOp::create(nb, nl, 1));
        // Padding columns count as -inf: they never win the max, add 0 to the sum.
        if (shard.vocabSize) {
          Value real = shard.isReal(nb, nl, col);
          newMax = arith::SelectOp::create(nb, nl, real, newMax, max);
          newSum = arith::SelectOp::create(nb, nl, real, newSum, sum);
        }
        SmallVector<Value> next{newMax, newSum};
        if (targets) {
          // Ignored (negative) targets match no column.
          Value isTarget = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, col,
                                                 indexValue(nb, nl, a[1]));
          Value picked = arith::SelectOp::create(nb, nl, isTarget, x, constantFloat(nb, nl, f, 0.0));
          next.push_back(arith::AddFOp::create(nb, nl, a[out + 2], picked));
        }
        linalg::YieldOp::create(nb, nl, next);
      });
  pass->setAttr(kOnlineLogSumExpAttr, b.getUnitAttr());
  RowLogSumExp stats{pass.getResult(0), pass.getResult(1),
                     targets ? pass.getResult(2) : Value()};
  if (!shard.axes || shard.axes.empty())
    return stats;
  // Shards of the vocabulary: the global maximum, then each shard's sum
  // rescaled to it, summed; the target's logit is in one shard, 0 elsewhere.
  Value globalMax = reduceOver(b, loc, stats.max, shard.axes, ReduceKind::max);
  Value rescaled = generic(b, loc, rowType, {stats.sumExp, stats.max, globalMax},
                           empty(b, loc, rowType), {identity(ctx, 1), identity(ctx, 1),
                                                    identity(ctx, 1), identity(ctx, 1)},
                           parallel(1), [&](OpBuilder &nb, Location nl, ValueRange a) {
                             linalg::YieldOp::create(nb, nl, rescaledSum(nb, nl, a[0], a[1], a[2]));
                           });
  stats.max = globalMax;
  stats.sumExp = reduceOver(b, loc, rescaled, shard.axes);
  if (targets)
    stats.picked = reduceOver(b, loc, stats.picked, shard.axes);
  return stats;
}

Value reduceOver(OpBuilder &b, Location loc, Value value, DenseI32ArrayAttr axes,
                 ReduceKind kind) {
  if (!axes || axes.empty())
    return value;
  return AllReduceOp::create(b, loc, value.getType(), value, axes,
                             ReduceKindAttr::get(b.getContext(), kind));
}

int64_t groupSize(Operation *op, DenseI32ArrayAttr axes) {
  if (!axes)
    return 1;
  GridAttr grid = lookupGrid(op);
  int64_t size = 1;
  for (int32_t a : axes.asArrayRef())
    size *= grid ? grid.getSize(static_cast<GridAxis>(a)) : 1;
  return size;
}

func::FuncOp runtimeFunction(ModuleOp module, StringRef name, TypeRange inputs,
                             TypeRange results, bool cInterface) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b(module.getContext());
  b.setInsertionPointToStart(module.getBody());
  auto callee = func::FuncOp::create(b, module.getLoc(), name,
                                     b.getFunctionType(inputs, results));
  callee.setPrivate();
  if (cInterface)
    callee->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return callee;
}

Value shardIndex(OpBuilder &b, Location loc, Operation *op, ArrayRef<int32_t> axes) {
  GridAttr grid = lookupGrid(op);
  auto module = op->getParentOfType<ModuleOp>();
  func::FuncOp coordinate = runtimeFunction(module, "tetra_rt_coordinate", {b.getI32Type()},
                                            {b.getI64Type()}, /*cInterface=*/false);
  Value index = constantIndex(b, loc, 0);
  for (int32_t a : axes) {
    Value axis = arith::ConstantIntOp::create(b, loc, a, 32);
    Value coord = func::CallOp::create(b, loc, coordinate, ValueRange{axis}).getResult(0);
    Value size = constantIndex(b, loc, grid.getSize(static_cast<GridAxis>(a)));
    index = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, index, size),
        arith::IndexCastOp::create(b, loc, b.getIndexType(), coord));
  }
  return index;
}

Value flattenRows(OpBuilder &b, Location loc, Value x) {
  auto type = llvm::cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  if (rank == 2)
    return x;
  ReassociationIndices lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  return tensor::CollapseShapeOp::create(b, loc, x,
                                         ArrayRef<ReassociationIndices>{lead, {rank - 1}});
}

Value gemm2D(OpBuilder &b, Location loc, Value a, bool transA, Value bb, bool transB,
             Value c) {
  MLIRContext *ctx = b.getContext();
  AffineExpr i = getAffineDimExpr(0, ctx), j = getAffineDimExpr(1, ctx),
             r = getAffineDimExpr(2, ctx);
  return generic(b, loc, c.getType(), {a, bb}, c,
                 {dims(ctx, 3, transA ? SmallVector<AffineExpr>{r, i} : SmallVector<AffineExpr>{i, r}),
                  dims(ctx, 3, transB ? SmallVector<AffineExpr>{j, r} : SmallVector<AffineExpr>{r, j}),
                  dims(ctx, 3, {i, j})},
                 {IteratorType::parallel, IteratorType::parallel, IteratorType::reduction},
                 [](OpBuilder &nb, Location nl, ValueRange v) {
                   Value p = arith::MulFOp::create(nb, nl, v[0], v[1]);
                   linalg::YieldOp::create(nb, nl, Value(arith::AddFOp::create(nb, nl, v[2], p)));
                 });
}

/// Offsets, sizes and strides of a 2-D slice keeping `dims`.
static void sliceBounds(OpBuilder &b, RankedTensorType type, ArrayRef<unsigned> dims,
                        ArrayRef<Value> at, SmallVectorImpl<OpFoldResult> &offsets,
                        SmallVectorImpl<OpFoldResult> &sizes,
                        SmallVectorImpl<OpFoldResult> &strides) {
  size_t next = 0;
  for (unsigned d = 0; d < type.getRank(); ++d) {
    bool kept = llvm::is_contained(dims, d);
    offsets.push_back(kept ? OpFoldResult(b.getIndexAttr(0)) : OpFoldResult(at[next++]));
    sizes.push_back(b.getIndexAttr(kept ? type.getDimSize(d) : 1));
    strides.push_back(b.getIndexAttr(1));
  }
}

Value slice2D(OpBuilder &b, Location loc, Value tensor, ArrayRef<unsigned> dims,
              ArrayRef<Value> at) {
  auto type = llvm::cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  sliceBounds(b, type, dims, at, offsets, sizes, strides);
  auto result = RankedTensorType::get({type.getDimSize(dims[0]), type.getDimSize(dims[1])},
                                      type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, result, tensor, offsets, sizes, strides);
}

Value insert2D(OpBuilder &b, Location loc, Value piece, Value tensor,
               ArrayRef<unsigned> dims, ArrayRef<Value> at) {
  auto type = llvm::cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  sliceBounds(b, type, dims, at, offsets, sizes, strides);
  return tensor::InsertSliceOp::create(b, loc, piece, tensor, offsets, sizes, strides);
}

Value forEachHead(OpBuilder &b, Location loc, int64_t batch, int64_t heads, Value init,
                  function_ref<Value(OpBuilder &, Location, Value, Value, Value)> body) {
  Value zero = constantIndex(b, loc, 0), one = constantIndex(b, loc, 1);
  auto outer = scf::ForOp::create(
      b, loc, zero, constantIndex(b, loc, batch), one, ValueRange{init},
      [&](OpBuilder &ob, Location ol, Value bi, ValueRange acc) {
        auto inner = scf::ForOp::create(
            ob, ol, zero, constantIndex(ob, ol, heads), one, ValueRange{acc[0]},
            [&](OpBuilder &ib, Location il, Value hi, ValueRange t) {
              scf::YieldOp::create(ib, il, body(ib, il, bi, hi, t[0]));
            });
        scf::YieldOp::create(ob, ol, inner.getResults());
      });
  return outer.getResult(0);
}

/// The reference "hash-avalanche" hash on 64-bit unsigned words.
static Value goldfishHash(OpBuilder &b, Location loc, Value key) {
  auto c = [&](uint64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, static_cast<int64_t>(v), 64);
  };
  auto shl = [&](Value v, uint64_t n) -> Value { return arith::ShLIOp::create(b, loc, v, c(n)); };
  auto shr = [&](Value v, uint64_t n) -> Value { return arith::ShRUIOp::create(b, loc, v, c(n)); };
  auto add = [&](Value x, Value y) -> Value { return arith::AddIOp::create(b, loc, x, y); };
  auto sub = [&](Value x, Value y) -> Value { return arith::SubIOp::create(b, loc, x, y); };
  auto mul = [&](Value x, uint64_t n) -> Value { return arith::MulIOp::create(b, loc, x, c(n)); };
  auto bxor = [&](Value x, Value y) -> Value { return arith::XOrIOp::create(b, loc, x, y); };
  auto mask = [&](Value v) -> Value { return arith::AndIOp::create(b, loc, v, c(0xffffffffull)); };
  Value notKey = bxor(key, c(~0ull));
  key = mask(add(notKey, shl(key, 21)));
  key = sub(sub(shl(key, 21), key), c(1));
  key = bxor(key, shr(key, 24));
  key = mask(add(add(key, shl(key, 3)), shl(key, 8)));
  key = mul(key, 265);
  key = bxor(key, shr(key, 14));
  key = mask(add(add(key, shl(key, 2)), shl(key, 4)));
  key = mul(key, 21);
  key = bxor(key, shr(key, 28));
  return mask(add(key, shl(key, 31)));
}

/// The table of the goldfish `table` rule, as a constant tensor.
static FailureOr<Value> goldfishTable(OpBuilder &b, Location loc, Operation *op,
                                      GoldfishAttr goldfish) {
  StringRef path = goldfish.getTable();
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return op->emitError("goldfish table '")
           << path << "' cannot be read: " << buffer.getError().message();
  StringRef bytes = (*buffer)->getBuffer();
  if (static_cast<int64_t>(bytes.size()) != kGoldfishTableSize * 4)
    return op->emitError("goldfish table '")
           << path << "' has " << bytes.size() << " bytes; it must hold "
           << kGoldfishTableSize << " little-endian f32 values (" << kGoldfishTableSize * 4
           << " bytes)";
  std::vector<float> values(kGoldfishTableSize);
  std::memcpy(values.data(), bytes.data(), bytes.size());
  auto type = RankedTensorType::get({kGoldfishTableSize}, b.getF32Type());
  return Value(arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, llvm::ArrayRef<float>(values))));
}

FailureOr<Value> keptMask(OpBuilder &b, Location loc, Operation *op, Value targets,
                          std::optional<int64_t> ignore, GoldfishAttr goldfish, Type f) {
  auto type = llvm::cast<RankedTensorType>(targets.getType());
  unsigned rank = type.getRank();
  auto maskType = RankedTensorType::get(type.getShape(), f);
  MLIRContext *ctx = b.getContext();
  Value table;
  if (goldfish && goldfish.getMode() == GoldfishMode::Table) {
    FailureOr<Value> loaded = goldfishTable(b, loc, op, goldfish);
    if (failed(loaded))
      return failure();
    table = *loaded;
  }
  return generic(
      b, loc, maskType, {targets}, empty(b, loc, maskType),
      {identity(ctx, rank), identity(ctx, rank)}, parallel(rank),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value target = a[0];
        Value kept = ignore ? Value(arith::CmpIOp::create(
                                  nb, nl, arith::CmpIPredicate::ne, target,
                                  arith::ConstantOp::create(
                                      nb, nl, IntegerAttr::get(target.getType(), *ignore))))
                            : Value(arith::ConstantIntOp::create(nb, nl, 1, 1));
        if (goldfish) {
          Value pos = linalg::IndexOp::create(nb, nl, rank - 1);
          int64_t k = goldfish.getK(), h = goldfish.getH();
          Value dropped;
          if (goldfish.getMode() == GoldfishMode::Static) {
            // Drop start, start + k, ...
            Value start = constantIndex(nb, nl, goldfish.getStart());
            Value atOrAfter = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::uge, pos, start);
            Value rem = arith::RemUIOp::create(
                nb, nl, arith::SubIOp::create(nb, nl, arith::MaxUIOp::create(nb, nl, pos, start),
                                              start),
                constantIndex(nb, nl, k));
            Value onGrid = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, rem,
                                                 constantIndex(nb, nl, 0));
            dropped = arith::AndIOp::create(nb, nl, atOrAfter, onGrid);
          } else {
            // key = product of the targets in the window [pos - h + 1, pos]
            // (64-bit, wrapping); the first h - 1 positions are never dropped.
            Value full = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::uge, pos,
                                               constantIndex(nb, nl, h - 1));
            Value first = arith::SubIOp::create(
                nb, nl, arith::MaxUIOp::create(nb, nl, pos, constantIndex(nb, nl, h - 1)),
                constantIndex(nb, nl, h - 1));
            SmallVector<Value> at;
            for (unsigned d = 0; d + 1 < rank; ++d)
              at.push_back(linalg::IndexOp::create(nb, nl, d));
            auto loop = scf::ForOp::create(
                nb, nl, first, arith::AddIOp::create(nb, nl, first, constantIndex(nb, nl, h)),
                constantIndex(nb, nl, 1),
                ValueRange{arith::ConstantIntOp::create(nb, nl, 1, 64)},
                [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
                  SmallVector<Value> idx(at);
                  idx.push_back(j);
                  Value t = tensor::ExtractOp::create(lb, ll, targets, idx);
                  Value wide = arith::ExtSIOp::create(lb, ll, lb.getI64Type(), t);
                  scf::YieldOp::create(lb, ll, Value(arith::MulIOp::create(lb, ll, acc[0], wide)));
                });
            Value below;
            if (table) {
              // table[product mod 1,000,003] < 1/k: the product as a signed
              // 64-bit value, its remainder taken non-negative; the
              // comparison in f32, as the reference's float table does.
              Value size = arith::ConstantIntOp::create(nb, nl, kGoldfishTableSize, 64);
              Value rem = arith::RemSIOp::create(nb, nl, loop.getResult(0), size);
              Value negative = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::slt, rem,
                  arith::ConstantIntOp::create(nb, nl, 0, 64));
              Value key = arith::SelectOp::create(
                  nb, nl, negative, arith::AddIOp::create(nb, nl, rem, size), rem);
              Value entry = tensor::ExtractOp::create(
                  nb, nl, table,
                  ValueRange{arith::IndexCastOp::create(nb, nl, nb.getIndexType(), key)});
              below = arith::CmpFOp::create(
                  nb, nl, arith::CmpFPredicate::OLT, entry,
                  constantFloat(nb, nl, nb.getF32Type(),
                                static_cast<float>(1.0 / static_cast<double>(k))));
            } else {
              Value hashed = goldfishHash(nb, nl, loop.getResult(0));
              // hash < (2^32 - 1) / k, compared as real numbers.
              Value asReal = arith::UIToFPOp::create(nb, nl, nb.getF64Type(), hashed);
              below = arith::CmpFOp::create(
                  nb, nl, arith::CmpFPredicate::OLT, asReal,
                  constantFloat(nb, nl, nb.getF64Type(),
                                4294967295.0 / static_cast<double>(k)));
            }
            dropped = arith::AndIOp::create(nb, nl, full, below);
          }
          Value notDropped = arith::XOrIOp::create(
              nb, nl, dropped, arith::ConstantIntOp::create(nb, nl, 1, 1));
          kept = arith::AndIOp::create(nb, nl, kept, notDropped);
        }
        linalg::YieldOp::create(
            nb, nl,
            Value(arith::SelectOp::create(nb, nl, kept, constantFloat(nb, nl, f, 1.0),
                                          constantFloat(nb, nl, f, 0.0))));
      });
}

double attentionScale(Value query, std::optional<double> scale) {
  int64_t headDim = llvm::cast<RankedTensorType>(query.getType()).getDimSize(3);
  return scale ? *scale : 1.0 / std::sqrt(static_cast<double>(headDim));
}

Value attentionProbabilities(OpBuilder &b, Location loc, Value query, Value key,
                             bool causal, std::optional<int64_t> window,
                             std::optional<double> scaleOpt, Value queryPosition) {
  MLIRContext *ctx = b.getContext();
  auto q = llvm::cast<RankedTensorType>(query.getType());
  auto k = llvm::cast<RankedTensorType>(key.getType());
  Type f = q.getElementType();
  int64_t batch = q.getDimSize(0), s = q.getDimSize(1), hq = q.getDimSize(2),
          t = k.getDimSize(1), hkv = k.getDimSize(2);
  int64_t group = hq / hkv;
  double scale = attentionScale(query, scaleOpt);
  AffineExpr e0 = getAffineDimExpr(0, ctx), e1 = getAffineDimExpr(1, ctx),
             e2 = getAffineDimExpr(2, ctx), e3 = getAffineDimExpr(3, ctx),
             e4 = getAffineDimExpr(4, ctx);

  // scores[b, h] = q[b, :, h, :] k[b, :, h / group, :]^T, one GEMM per head.
  auto scoresType = RankedTensorType::get({batch, hq, s, t}, f);
  Value cGroup = constantIndex(b, loc, group);
  Value scores = forEachHead(
      b, loc, batch, hq, filled(b, loc, scoresType, 0.0),
      [&](OpBuilder &nb, Location nl, Value bi, Value hi, Value acc) -> Value {
        Value kvHead = arith::DivUIOp::create(nb, nl, hi, cGroup);
        Value qs = slice2D(nb, nl, query, {1, 3}, {bi, hi});
        Value ks = slice2D(nb, nl, key, {1, 3}, {bi, kvHead});
        Value cs = slice2D(nb, nl, acc, {2, 3}, {bi, hi});
        return insert2D(nb, nl, gemm2D(nb, nl, qs, false, ks, true, cs), acc, {2, 3}, {bi, hi});
      });
  (void)e0; (void)e1; (void)e2; (void)e3; (void)e4;

  // Whether key t is visible from query s (keys may extend past the queries:
  // query s sits at position s + t_len - s_len, or s + queryPosition).
  Value firstQuery = queryPosition
                         ? Value(arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                            queryPosition))
                         : constantIndex(b, loc, t - s);
  auto visible = [&](OpBuilder &nb, Location nl) -> Value {
    Value sIdx = linalg::IndexOp::create(nb, nl, 2);
    Value tIdx = linalg::IndexOp::create(nb, nl, 3);
    Value qPos = arith::AddIOp::create(nb, nl, sIdx, firstQuery);
    Value ok = arith::ConstantIntOp::create(nb, nl, 1, 1);
    if (causal)
      ok = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ule, tIdx, qPos);
    if (window) {
      // qPos - t < W  <=>  t + W > qPos
      Value tw = arith::AddIOp::create(nb, nl, tIdx, constantIndex(nb, nl, *window));
      Value inWindow = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ugt, tw, qPos);
      ok = arith::AndIOp::create(nb, nl, ok, inWindow);
    }
    return ok;
  };
  auto rowType = RankedTensorType::get({batch, hq, s}, f);
  AffineMap id4 = identity(ctx, 4), row4 = dropLast(ctx, 4);
  Value negInf = constantFloat(b, loc, f, -INFINITY);
  Value maxInit =
      linalg::FillOp::create(b, loc, ValueRange{negInf}, ValueRange{empty(b, loc, rowType)})
          .getResult(0);
  Value rowMax = generic(
      b, loc, rowType, {scores}, maxInit, {id4, row4}, reduceLast(4),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value v = arith::MulFOp::create(nb, nl, a[0], constantFloat(nb, nl, f, scale));
        v = arith::SelectOp::create(nb, nl, visible(nb, nl), v,
                                    constantFloat(nb, nl, f, -INFINITY));
        linalg::YieldOp::create(nb, nl, Value(arith::MaximumFOp::create(nb, nl, a[1], v)));
      });
  Value exps = generic(
      b, loc, scoresType, {scores, rowMax}, empty(b, loc, scoresType), {id4, row4, id4},
      parallel(4), [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value v = arith::MulFOp::create(nb, nl, a[0], constantFloat(nb, nl, f, scale));
        Value e = math::ExpOp::create(nb, nl, arith::SubFOp::create(nb, nl, v, a[1]));
        linalg::YieldOp::create(
            nb, nl,
            Value(arith::SelectOp::create(nb, nl, visible(nb, nl), e,
                                          constantFloat(nb, nl, f, 0.0))));
      });
  Value rowSum = reduceSumLast(b, loc, exps, [](OpBuilder &, Location, Value x) { return x; });
  return generic(b, loc, scoresType, {exps, rowSum}, empty(b, loc, scoresType),
                 {id4, row4, id4}, parallel(4), [](OpBuilder &nb, Location nl, ValueRange a) {
                   linalg::YieldOp::create(
                       nb, nl, Value(arith::DivFOp::create(nb, nl, a[0], a[1])));
                 });
}

} // namespace mlir::tetra
