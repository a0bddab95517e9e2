//===- ModelBuilder.cpp - tetra IR for a ModelConfig -----------------------===//
//
// Emits parameters under the checkpoint's own names and a `forward` function
// built from the same few pieces for every family: embeddings, blocks (pre-norm,
// parallel-residual or sandwich), a recurrent core where the family has one,
// the final norm and the LM head.
//
//===----------------------------------------------------------------------===//
#include "tetra/Import/ModelBuilder.h"
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include <cmath>

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// Checkpoint names of one block's parameters (module paths, without the
/// trailing `.weight` / `.bias`). Unused entries stay empty.
struct BlockNames {
  std::string norm1, norm2, norm3, norm4;
  std::string q, k, v, qkv, o, qkBias;
  std::string gate, up, down, fc;
};

/// Checkpoint names of the parameters outside the blocks.
struct ModelNames {
  std::string embed, positions, abacus, embedNorm, adapter, finalNorm, head;
};

class ModelBuilder {
public:
  ModelBuilder(const ModelConfig &config, MLIRContext *ctx, Location loc,
               ModelShape shape)
      : c(config), ctx(ctx), loc(loc), b(ctx), f32(Float32Type::get(ctx)),
        shape(shape) {}

  OwningOpRef<ModuleOp> build();

private:
  static constexpr int64_t kDyn = ShapedType::kDynamic;

  // Names.
  ModelNames modelNames() const;
  BlockNames blockNames(const std::string &prefix) const;

  // Parameters.
  Value param(const std::string &name, ArrayRef<int64_t> shape, InitAttr init);
  InitAttr normal(double std) const {
    return InitAttr::get(ctx, InitKind::normal, APFloat(std));
  }
  InitAttr zeros() const { return InitAttr::get(ctx, InitKind::zeros, APFloat(0.0)); }
  InitAttr ones() const { return InitAttr::get(ctx, InitKind::ones, APFloat(0.0)); }
  /// Output projections start smaller: std / sqrt(2 * layers) (GPT-2).
  InitAttr outputInit() const {
    return normal(c.initStd / std::sqrt(2.0 * static_cast<double>(c.layers)));
  }

  // Shapes.
  RankedTensorType activation(ArrayRef<int64_t> tail) const {
    SmallVector<int64_t> dims{shape.batch, shape.seq};
    llvm::append_range(dims, tail);
    return RankedTensorType::get(dims, f32);
  }
  Value splitHeads(Value x, int64_t heads);
  Value mergeHeads(Value x);
  Value sliceLast(Value x, int64_t offset, int64_t size);
  Value sliceHeadGroup(Value x, int64_t index); // from [B, S, heads, 3, D]

  // Layers.
  Value linear(Value x, const std::string &name, int64_t in, int64_t out,
               bool bias, bool transposed, bool outputProjection);
  Value norm(Value x, const std::string &name);
  Value attention(Value x, const BlockNames &n);
  Value mlp(Value x, const BlockNames &n);
  Value block(Value x, const BlockNames &n);
  Value blockStack(Value x, const std::string &prefix, int64_t count);
  Value embed(Value ids, const ModelNames &names);
  Value recurrentCore(Value iterations, Value inject, const ModelNames &names);
  /// [B, 1] filled with the decoding position, as `type` integers.
  Value positionsOfStep(Type type) {
    Value value = position;
    if (type != position.getType())
      value = arith::TruncIOp::create(b, loc, type, position);
    return tensor::SplatOp::create(b, loc, value,
                                   RankedTensorType::get({shape.batch, 1}, type));
  }
  Value lmHead(Value x, const ModelNames &names);

  const ModelConfig &c;
  MLIRContext *ctx;
  Location loc;
  OpBuilder b;
  OpBuilder paramBuilder{static_cast<MLIRContext *>(nullptr)};
  Type f32;
  ModelShape shape;
  /// Batch and sequence sizes: constants when static, tensor.dim otherwise.
  OpFoldResult batch, seq;
  /// Decoding: the position of this step's token, the caches (k, v per
  /// layer, in order) and what the layers make of them.
  Value position;
  SmallVector<Value> caches, updatedCaches;
  llvm::StringMap<RankedTensorType> params;
};

ModelNames ModelBuilder::modelNames() const {
  ModelNames n;
  if (c.family == "gpt2") {
    n.embed = "transformer.wte";
    n.positions = "transformer.wpe";
    n.finalNorm = "transformer.ln_f";
  } else if (c.family == "gpt_neox") {
    n.embed = "gpt_neox.embed_in";
    n.finalNorm = "gpt_neox.final_layer_norm";
    n.head = "embed_out";
  } else if (c.family == "huginn_raven") {
    n.embed = "transformer.wte";
    n.adapter = "transformer.adapter";
    n.finalNorm = "transformer.ln_f";
    n.head = "lm_head";
  } else { // llama family and abacus
    n.embed = "model.embed_tokens";
    n.finalNorm = "model.norm";
    n.head = "lm_head";
    if (c.abacus) {
      n.abacus = "model.abacus_embed";
      n.embedNorm = "model.embed_norm";
    }
  }
  if (c.tiedEmbeddings)
    n.head.clear();
  return n;
}

BlockNames ModelBuilder::blockNames(const std::string &p) const {
  BlockNames n;
  if (c.family == "gpt2") {
    n.norm1 = p + "ln_1";
    n.norm2 = p + "ln_2";
    n.qkv = p + "attn.c_attn";
    n.o = p + "attn.c_proj";
    n.up = p + "mlp.c_fc";
    n.down = p + "mlp.c_proj";
  } else if (c.family == "gpt_neox") {
    n.norm1 = p + "input_layernorm";
    n.norm2 = p + "post_attention_layernorm";
    n.qkv = p + "attention.query_key_value";
    n.o = p + "attention.dense";
    n.up = p + "mlp.dense_h_to_4h";
    n.down = p + "mlp.dense_4h_to_h";
  } else if (c.family == "huginn_raven") {
    n.norm1 = p + "norm_1";
    n.norm2 = p + "norm_2";
    n.norm3 = p + "norm_3";
    n.norm4 = p + "norm_4";
    n.qkv = p + "attn.Wqkv";
    n.o = p + "attn.proj";
    n.qkBias = p + "attn.qk_bias";
    n.fc = p + "mlp.fc";
    n.down = p + "mlp.proj";
  } else {
    n.norm1 = p + "input_layernorm";
    n.norm2 = p + "post_attention_layernorm";
    n.q = p + "self_attn.q_proj";
    n.k = p + "self_attn.k_proj";
    n.v = p + "self_attn.v_proj";
    n.o = p + "self_attn.o_proj";
    if (c.mlp == MlpKind::Gated)
      n.gate = p + "mlp.gate_proj";
    n.up = p + "mlp.up_proj";
    n.down = p + "mlp.down_proj";
  }
  return n;
}

Value ModelBuilder::param(const std::string &name, ArrayRef<int64_t> shape,
                          InitAttr init) {
  auto type = RankedTensorType::get(shape, f32);
  auto [it, inserted] = params.try_emplace(name, type);
  if (inserted)
    ParamOp::create(paramBuilder, loc, name, type, init, LayoutAttr(), TypeAttr());
  return GetParamOp::create(b, loc, it->second, name);
}

Value ModelBuilder::splitHeads(Value x, int64_t heads) {
  int64_t width = llvm::cast<RankedTensorType>(x.getType()).getShape().back();
  int64_t headDim = width / heads;
  SmallVector<OpFoldResult> shape{batch, seq, b.getIndexAttr(heads),
                                  b.getIndexAttr(headDim)};
  return tensor::ExpandShapeOp::create(b, loc, activation({heads, headDim}), x,
                                       ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
                                       shape);
}

Value ModelBuilder::mergeHeads(Value x) {
  return tensor::CollapseShapeOp::create(
      b, loc, x, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

Value ModelBuilder::sliceLast(Value x, int64_t offset, int64_t size) {
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0),
                                    b.getIndexAttr(offset)};
  SmallVector<OpFoldResult> sizes{batch, seq, b.getIndexAttr(size)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, activation({size}), x, offsets,
                                        sizes, strides);
}

Value ModelBuilder::sliceHeadGroup(Value x, int64_t index) {
  auto type = llvm::cast<RankedTensorType>(x.getType()); // [B, S, heads, 3, D]
  int64_t heads = type.getDimSize(2), headDim = type.getDimSize(4);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0),
                                    b.getIndexAttr(0), b.getIndexAttr(index),
                                    b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{batch, seq, b.getIndexAttr(heads),
                                  b.getIndexAttr(1), b.getIndexAttr(headDim)};
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, activation({heads, headDim}), x,
                                        offsets, sizes, strides);
}

Value ModelBuilder::linear(Value x, const std::string &name, int64_t in,
                           int64_t out, bool bias, bool transposed,
                           bool outputProjection) {
  // GPT-2 stores its Conv1D weights [in, out].
  bool inOut = c.family == "gpt2";
  SmallVector<int64_t> shape = inOut ? SmallVector<int64_t>{in, out}
                                     : SmallVector<int64_t>{out, in};
  Value weight = param(name + ".weight", shape,
                       outputProjection ? outputInit() : normal(c.initStd));
  Value biasValue = bias ? param(name + ".bias", {out}, zeros()) : Value();
  return LinearOp::create(b, loc, x, weight, biasValue,
                          transposed ? b.getUnitAttr() : UnitAttr(),
                          inOut ? b.getUnitAttr() : UnitAttr());
}

Value ModelBuilder::norm(Value x, const std::string &name) {
  int64_t hidden = llvm::cast<RankedTensorType>(x.getType()).getShape().back();
  // Gemma's (1 + w) norm starts at w = 0, the others at w = 1.
  Value weight =
      param(name + ".weight", {hidden}, c.normUnitOffset ? zeros() : ones());
  FloatAttr eps = b.getF64FloatAttr(c.normEps);
  if (c.norm == NormKind::RMS)
    return RMSNormOp::create(b, loc, x, weight, eps,
                             c.normUnitOffset ? b.getUnitAttr() : UnitAttr(), nullptr);
  Value bias = c.normBias ? param(name + ".bias", {hidden}, zeros()) : Value();
  return LayerNormOp::create(b, loc, x, weight, bias, eps, nullptr);
}

Value ModelBuilder::attention(Value x, const BlockNames &n) {
  int64_t hq = c.heads, hkv = c.kvHeads, d = c.headDim;
  Value q, k, v;
  switch (c.qkv) {
  case QkvStorage::Separate:
    q = splitHeads(linear(x, n.q, c.hidden, hq * d, c.qkvBias, false, false), hq);
    k = splitHeads(linear(x, n.k, c.hidden, hkv * d, c.qkvBias, false, false), hkv);
    v = splitHeads(linear(x, n.v, c.hidden, hkv * d, c.qkvBias, false, false), hkv);
    break;
  case QkvStorage::FusedInOut:
  case QkvStorage::FusedContiguous: {
    Value qkv = linear(x, n.qkv, c.hidden, (hq + 2 * hkv) * d, c.qkvBias,
                       false, false);
    q = splitHeads(sliceLast(qkv, 0, hq * d), hq);
    k = splitHeads(sliceLast(qkv, hq * d, hkv * d), hkv);
    v = splitHeads(sliceLast(qkv, (hq + hkv) * d, hkv * d), hkv);
    break;
  }
  case QkvStorage::FusedPerHead: {
    // Rows grouped [heads, 3, head_dim]: q, k, v interleaved head by head.
    Value qkv = linear(x, n.qkv, c.hidden, 3 * hq * d, c.qkvBias, false, false);
    SmallVector<OpFoldResult> shape{batch, seq, b.getIndexAttr(hq),
                                    b.getIndexAttr(3), b.getIndexAttr(d)};
    Value grouped = tensor::ExpandShapeOp::create(
        b, loc, activation({hq, 3, d}), qkv,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}}, shape);
    q = sliceHeadGroup(grouped, 0);
    k = sliceHeadGroup(grouped, 1);
    v = sliceHeadGroup(grouped, 2);
    break;
  }
  }
  if (c.qkBias) {
    // One [2, 1, heads, head_dim] tensor: q's bias, then k's; added before RoPE.
    Value bias = param(n.qkBias, {2, 1, hq, d}, zeros());
    auto slice = [&](int64_t index) -> Value {
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(index), b.getIndexAttr(0),
                                        b.getIndexAttr(0), b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(1), b.getIndexAttr(1),
                                      b.getIndexAttr(hq), b.getIndexAttr(d)};
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({hq, d}, f32), bias, offsets, sizes,
          strides);
    };
    q = AddOp::create(b, loc, q, slice(0));
    k = AddOp::create(b, loc, k, slice(1));
  }
  if (c.positions == PositionKind::Rotary) {
    auto style = RotaryStyleAttr::get(
        ctx, c.rotaryInterleaved ? RotaryStyle::interleaved : RotaryStyle::half);
    FloatAttr base = b.getF64FloatAttr(c.ropeTheta);
    FloatAttr fraction = b.getF64FloatAttr(c.rotaryFraction);
    Value positions = position ? positionsOfStep(b.getI64Type()) : Value();
    q = RotaryOp::create(b, loc, q, positions, base, fraction, style);
    k = RotaryOp::create(b, loc, k, positions, base, fraction, style);
  }
  if (position) {
    // Write this position's keys and values into the caches, attend over them.
    auto write = [&](Value cache, Value row) -> Value {
      Value at = arith::IndexCastOp::create(b, loc, b.getIndexType(), position);
      auto type = llvm::cast<RankedTensorType>(row.getType());
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), at, b.getIndexAttr(0),
                                        b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes;
      for (int64_t dim : type.getShape())
        sizes.push_back(b.getIndexAttr(dim));
      SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
      Value updated = tensor::InsertSliceOp::create(b, loc, row, cache, offsets, sizes, strides);
      updatedCaches.push_back(updated);
      return updated;
    };
    size_t layer = updatedCaches.size();
    k = write(caches[layer], k);
    v = write(caches[layer + 1], v);
  }
  IntegerAttr window =
      c.slidingWindow ? b.getI64IntegerAttr(*c.slidingWindow) : IntegerAttr();
  Value attended = AttentionOp::create(b, loc, q, k, v, position, b.getUnitAttr(), window,
                                       FloatAttr(), LokiAttr());
  return linear(mergeHeads(attended), n.o, hq * d, c.hidden, c.outBias,
                /*transposed=*/true, /*outputProjection=*/true);
}

Value ModelBuilder::mlp(Value x, const BlockNames &n) {
  int64_t h = c.hidden, i = c.intermediate;
  if (c.mlp == MlpKind::Plain) {
    Value up = linear(x, n.up, h, i, c.mlpBias, false, false);
    Value act =
        c.activation == Activation::Silu
            ? Value(SiluOp::create(b, loc, up))
            : Value(GeluOp::create(
                  b, loc, up,
                  GeluApproxAttr::get(ctx, c.activation == Activation::GeluTanh
                                               ? GeluApprox::tanh
                                               : GeluApprox::none)));
    return linear(act, n.down, i, h, c.mlpBias, true, true);
  }
  Value gate, up;
  if (!n.fc.empty()) {
    // One fused [2I, H] weight: gate rows, then up rows.
    Value fused = linear(x, n.fc, h, 2 * i, c.mlpBias, false, false);
    gate = sliceLast(fused, 0, i);
    up = sliceLast(fused, i, i);
  } else {
    gate = linear(x, n.gate, h, i, c.mlpBias, false, false);
    up = linear(x, n.up, h, i, c.mlpBias, false, false);
  }
  GluActivation act = c.activation == Activation::Silu   ? GluActivation::silu
                      : c.activation == Activation::Gelu ? GluActivation::gelu
                                                         : GluActivation::gelu_tanh;
  Value gated = GluOp::create(b, loc, gate, up, GluActivationAttr::get(ctx, act));
  return linear(gated, n.down, i, h, c.mlpBias, true, true);
}

Value ModelBuilder::block(Value x, const BlockNames &n) {
  if (c.sandwichNorm) {
    // x = n2(x + attn(n1(x))); x = n4(x + mlp(n3(x)))
    x = norm(AddOp::create(b, loc, attention(norm(x, n.norm1), n), x), n.norm2);
    return norm(AddOp::create(b, loc, mlp(norm(x, n.norm3), n), x), n.norm4);
  }
  if (c.parallelResidual) {
    // x + attn(ln1(x)) + mlp(ln2(x))
    Value attended = attention(norm(x, n.norm1), n);
    Value mlpOut = mlp(norm(x, n.norm2), n);
    return AddOp::create(b, loc, AddOp::create(b, loc, x, attended), mlpOut);
  }
  x = AddOp::create(b, loc, x, attention(norm(x, n.norm1), n));
  return AddOp::create(b, loc, x, mlp(norm(x, n.norm2), n));
}

Value ModelBuilder::blockStack(Value x, const std::string &prefix, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    x = block(x, blockNames(prefix + std::to_string(i) + "."));
  return x;
}

Value ModelBuilder::embed(Value ids, const ModelNames &names) {
  Value table = param(names.embed + ".weight", {c.vocab, c.hidden}, normal(c.initStd));
  Value x = EmbeddingOp::create(b, loc, table, ids, nullptr);
  if (!names.positions.empty()) {
    Value wpe = param(names.positions + ".weight", {c.context, c.hidden},
                      normal(c.initStd));
    Value pos = position ? positionsOfStep(b.getI32Type())
                         : Value(PositionsOp::create(b, loc, ids, b.getI64IntegerAttr(0)));
    x = AddOp::create(b, loc, x, EmbeddingOp::create(b, loc, wpe, pos, nullptr));
  }
  if (c.abacus) {
    const AbacusConfig &ab = *c.abacus;
    // Row 0 serves non-digits; digit positions run up to max_digits + offset.
    Value abacusTable = param(names.abacus + ".weight",
                              {ab.maxDigits + ab.maxOffset + 1, c.hidden},
                              normal(c.initStd));
    Value pos = AbacusPositionsOp::create(b, loc, ids,
                                          b.getI64IntegerAttr(ab.firstDigit),
                                          b.getI64IntegerAttr(ab.lastDigit));
    x = AddOp::create(b, loc, x,
                      AbacusEmbeddingOp::create(b, loc, abacusTable, pos, Value(),
                                                b.getI64IntegerAttr(ab.maxOffset)));
    x = norm(x, names.embedNorm);
  }
  if (c.embeddingScale != 0.0)
    x = ScaleOp::create(b, loc, x, b.getF64FloatAttr(c.embeddingScale));
  return x;
}

Value ModelBuilder::recurrentCore(Value iterations, Value inject,
                                  const ModelNames &names) {
  // The state starts at zero: deterministic, as in the reference equivalence
  // tests; training draws a random initial state.
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  SmallVector<Value> dynamicSizes;
  for (OpFoldResult size : {batch, seq})
    if (auto value = llvm::dyn_cast<Value>(size))
      dynamicSizes.push_back(value);
  Value init =
      tensor::SplatOp::create(b, loc, zero, inject.getType(), dynamicSizes);
  Value adapter;
  Injection mode = Injection::add;
  int64_t mean = 0, grad = 0, coreLayers = 0;
  std::string prefix;
  if (c.recurrentDepth) {
    adapter = param(names.adapter + ".weight", {c.hidden, 2 * c.hidden},
                    normal(c.initStd));
    mode = Injection::adapter;
    mean = c.recurrentDepth->meanRecurrence;
    grad = c.recurrentDepth->backpropDepth;
    coreLayers = c.recurrentDepth->coreLayers;
    prefix = "transformer.core_block.";
  } else {
    mean = c.abacus->recurrence;
    grad = std::max<int64_t>(1, mean / 2);
    coreLayers = c.layers;
    prefix = "model.layers.";
  }
  auto recurrent = RecurrentOp::create(
      b, loc, iterations, init, inject, adapter, InjectionAttr::get(ctx, mode),
      b.getI64IntegerAttr(mean), b.getI64IntegerAttr(grad));
  Block *body = b.createBlock(&recurrent.getBody(), {}, {inject.getType()}, {loc});
  Value next = blockStack(body->getArgument(0), prefix, coreLayers);
  YieldOp::create(b, loc, ValueRange{next});
  b.setInsertionPointAfter(recurrent);
  return recurrent;
}

Value ModelBuilder::lmHead(Value x, const ModelNames &names) {
  std::string name = names.head.empty() ? names.embed : names.head;
  Value weight = param(name + ".weight", {c.vocab, c.hidden}, normal(c.initStd));
  return LinearOp::create(b, loc, x, weight, Value(), UnitAttr(), UnitAttr());
}

OwningOpRef<ModuleOp> ModelBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(kModelAttrName,
                     ModelAttr::get(ctx, c.family, c.layers, c.context));
  b.setInsertionPointToEnd(module->getBody());

  auto ids = RankedTensorType::get({shape.batch, shape.seq}, b.getI32Type());
  SmallVector<Type> inputs{ids};
  bool recurrent = c.recurrentDepth || c.abacus;
  bool decode = shape.cache > 0;
  if (decode && recurrent) {
    emitError(loc) << "decoding with a KV cache is not supported for " << c.family
                   << " models yet";
    return {};
  }
  if (recurrent)
    inputs.push_back(b.getI64Type());
  auto logits = activation({c.vocab});
  SmallVector<Type> results{logits};
  auto cacheType =
      RankedTensorType::get({shape.batch, shape.cache, c.kvHeads, c.headDim}, f32);
  if (decode) {
    inputs.push_back(b.getI64Type());
    for (int64_t i = 0; i < 2 * c.layers; ++i) {
      inputs.push_back(cacheType);
      results.push_back(cacheType);
    }
  }
  auto func = func::FuncOp::create(b, loc, decode ? "decode" : "forward",
                                   b.getFunctionType(inputs, results));
  setArgRole(func, 0, "tokens");
  if (recurrent)
    setArgRole(func, 1, "iterations");
  setResultRole(func, 0, "logits");
  if (decode) {
    setArgRole(func, 1, "position");
    for (int64_t i = 0; i < 2 * c.layers; ++i) {
      std::string layer = std::to_string(i / 2);
      setArgRole(func, 2 + i, i % 2 ? "v_cache" : "k_cache", layer);
      setResultRole(func, 1 + i, i % 2 ? "v_cache" : "k_cache", layer);
    }
  }
  paramBuilder = OpBuilder(func);
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  if (decode) {
    position = entry->getArgument(1);
    for (int64_t i = 0; i < 2 * c.layers; ++i)
      caches.push_back(entry->getArgument(2 + i));
  }
  auto size = [&](int64_t n, int64_t dim) -> OpFoldResult {
    if (!ShapedType::isDynamic(n))
      return b.getIndexAttr(n);
    return tensor::DimOp::create(b, loc, tokens, dim).getResult();
  };
  batch = size(shape.batch, 0);
  seq = size(shape.seq, 1);

  ModelNames names = modelNames();
  Value x = embed(tokens, names);
  if (c.recurrentDepth) {
    const RecurrentDepthConfig &rd = *c.recurrentDepth;
    x = blockStack(x, "transformer.prelude.", rd.preludeLayers);
    x = recurrentCore(entry->getArgument(1), x, names);
    // y = norm(coda(norm(s))), the same norm module both times.
    x = norm(x, names.finalNorm);
    x = blockStack(x, "transformer.coda.", rd.codaLayers);
  } else if (c.abacus) {
    x = recurrentCore(entry->getArgument(1), x, names);
  } else {
    std::string prefix = c.family == "gpt2"       ? "transformer.h."
                         : c.family == "gpt_neox" ? "gpt_neox.layers."
                                                  : "model.layers.";
    x = blockStack(x, prefix, c.layers);
  }
  x = norm(x, names.finalNorm);
  SmallVector<Value> outputs{lmHead(x, names)};
  llvm::append_range(outputs, updatedCaches);
  func::ReturnOp::create(b, loc, outputs);
  return module;
}

} // namespace

OwningOpRef<ModuleOp> tetra::buildModel(const ModelConfig &config,
                                        MLIRContext *context, Location loc,
                                        ModelShape shape) {
  context->loadDialect<TetraDialect, func::FuncDialect, tensor::TensorDialect,
                       arith::ArithDialect>();
  OwningOpRef<ModuleOp> module = ModelBuilder(config, context, loc, shape).build();
  if (!module || failed(verify(*module)))
    return {};
  return module;
}
