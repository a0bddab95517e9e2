//===- TetraOps.td - operations of the tetra dialect ---------*- tablegen -*-===//
#ifndef TETRA_OPS_TD
#define TETRA_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "TetraDialect.td"
include "TetraEnums.td"
include "TetraAttrs.td"
include "TetraTypes.td"
include "TetraInterfaces.td"

def Tetra_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Tetra_IndexTensor : RankedTensorOf<[AnySignlessInteger]>;
defvar Tetra_AxesAttr = DenseI32ArrayAttr;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Tetra_ParamOp : Tetra_Op<"param", [Symbol]> {
  let summary = "a trainable parameter, named as in Hugging Face checkpoints";
  let description = [{
    ```mlir
    tetra.param @"model.layers.0.mlp.down_proj.weight" : tensor<4096x14336xf32>
        init #tetra.init<normal, std = 0.02>
    ```
    The global (unsharded) shape and dtype; the optional layout says how the
    parameter is split over the grid once sharded (tetra-shard), and `local`
    the type of the shard each rank holds (tetra-partition), which is then
    what `tetra.get_param` returns.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyStaticShapeTensor>:$type,
                       Tetra_InitAttr:$init,
                       OptionalAttr<Tetra_LayoutAttr>:$layout,
                       OptionalAttr<TypeAttrOf<AnyStaticShapeTensor>>:$local_type);
  let assemblyFormat = [{
    $sym_name `:` $type `init` $init (`layout` $layout^)? (`local` $local_type^)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
    /// Number of scalar elements.
    int64_t getNumElements() { return getTensorType().getNumElements(); }
    /// The shard one rank holds (tetra-partition sets it), else the whole.
    ::mlir::RankedTensorType getLocalTensorType() {
      if (auto local = getLocalType())
        return ::llvm::cast<::mlir::RankedTensorType>(*local);
      return getTensorType();
    }
  }];
}

def Tetra_GetParamOp : Tetra_Op<"get_param",
    [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the value of a parameter";
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Embeddings and positions
//===----------------------------------------------------------------------===//

def Tetra_EmbeddingOp : Tetra_Op<"embedding", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "rows of a table picked by token ids";
  let description = [{
    table [V, H], indices [d0, ..., dn] -> [d0, ..., dn, H].
    With `vocab_axes` the table holds this rank's rows of a vocabulary split
    over those axes (rows i*V .. (i+1)*V - 1, i the rank's index in the group);
    ids outside them give zeros, and an all_reduce over the axes completes
    the lookup.
  }];
  let arguments = (ins Tetra_FloatTensor:$table, Tetra_IndexTensor:$indices,
                       OptionalAttr<Tetra_AxesAttr>:$vocab_axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $indices `]` attr-dict `:` type($table) `,` type($indices)
  }];
}

def Tetra_PositionsOp : Tetra_Op<"positions",
    [Tetra_ShardableOpInterface, Pure, AllTypesMatch<["indices", "result"]>]> {
  let summary = "position of every token in its sequence";
  let description = [{
    indices [B, S] -> [B, S] with result[b, s] = s + offset (offset 0 unless
    given: a decoder with a KV cache passes the number of cached tokens).
  }];
  let arguments = (ins Tetra_IndexTensor:$indices, DefaultValuedAttr<I64Attr, "0">:$offset);
  let results = (outs Tetra_IndexTensor:$result);
  let assemblyFormat = "$indices attr-dict `:` type($indices)";
  let hasVerifier = 1;
}

def Tetra_AbacusPositionsOp : Tetra_Op<"abacus_positions",
    [Pure, AllTypesMatch<["indices", "result"]>]> {
  let summary = "Abacus digit positions";
  let description = [{
    0 for a non-digit token; for a digit, 1 + the number of digits immediately
    before it. Digits are the ids first_digit..last_digit (inclusive).
    "321+54=861" gives [1,2,3,0,1,2,0,1,2,3].
  }];
  let arguments = (ins Tetra_IndexTensor:$indices, I64Attr:$first_digit,
                       I64Attr:$last_digit);
  let results = (outs Tetra_IndexTensor:$result);
  let assemblyFormat = "$indices attr-dict `:` type($indices)";
  let hasVerifier = 1;
}

def Tetra_AbacusEmbeddingOp : Tetra_Op<"abacus_embedding", [Pure, InferTypeOpAdaptor]> {
  let summary = "embedding of Abacus positions, with the training offset";
  let description = [{
    Like `tetra.embedding` on Abacus positions, except that `offset` (sampled
    uniformly in [0, max_offset] per training step, 0 at evaluation) is added to
    every non-zero position.
  }];
  let arguments = (ins Tetra_FloatTensor:$table, Tetra_IndexTensor:$positions,
                       Optional<AnySignlessInteger>:$offset,
                       DefaultValuedAttr<I64Attr, "100">:$max_offset);
  let results = (outs Tetra_FloatTensor:$result);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $table `[` $positions `]` (`offset` $offset^ `:` type($offset))? attr-dict
    `:` type($table) `,` type($positions)
  }];
}

def Tetra_RotaryOp : Tetra_Op<"rotary", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts"]>, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "rotary position embedding (RoPE)";
  let description = [{
    input [B, S, heads, D]. Rotates the first `fraction * D` channels of every
    head (GPT-NeoX rotates 25%) with frequencies base^(-2i/rotated), at positions
    0..S-1 unless `positions` [B, S] is given. `inverse` rotates by the
    opposite angles (the rotation's transpose: its gradient).
  }];
  let arguments = (ins Tetra_FloatTensor:$input,
                       Optional<Tetra_IndexTensor>:$positions,
                       F64Attr:$base,
                       DefaultValuedAttr<F64Attr, "1.0">:$fraction,
                       DefaultValuedAttr<Tetra_RotaryStyleAttr, "RotaryStyle::half">:$style,
                       UnitAttr:$inverse);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`positions` $positions^ `:` type($positions))? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of channels of each head that are rotated.
    int64_t getRotatedDims();
  }];
}

//===----------------------------------------------------------------------===//
// Linear layers, norms, activations
//===----------------------------------------------------------------------===//

def Tetra_LinearOp : Tetra_Op<"linear", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Tetra_ForwardFlopsOpInterface>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "y = x W^T (+ b)";
  let description = [{
    input [..., K], weight [N, K] ([K, N] with `weight_in_out`, the storage of
    GPT-2's Conv1D), optional bias [N] -> [..., N].

    `transposed` is AxoNN's role of the layer, not the weight's storage: a
    transposed layer's input is split over y and its output over x (attention
    output and MLP down projections), so consecutive layers need no
    redistribution.
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$weight,
                       Optional<Tetra_FloatTensor>:$bias,
                       UnitAttr:$transposed, UnitAttr:$weight_in_out);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($bias)^)?
  }];
  let extraClassDeclaration = [{
    int64_t getInFeatures();
    int64_t getOutFeatures();
  }];
}

def Tetra_RMSNormOp : Tetra_Op<"rmsnorm", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "x * rsqrt(mean(x^2) + eps) * w, over the last dimension";
  let description = [{
    Statistics in fp32. With `unit_offset` the scale is (1 + w) (Gemma).
    With `stat_axes` the last dimension is split over those grid axes and the
    statistics are summed over them, so the result equals the unsplit norm.
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$weight,
                       F64Attr:$eps, UnitAttr:$unit_offset,
                       OptionalAttr<Tetra_AxesAttr>:$stat_axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

def Tetra_LayerNormOp : Tetra_Op<"layernorm", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "(x - mean) * rsqrt(var + eps) * w (+ b), over the last dimension";
  let description = [{
    With `stat_axes` the last dimension is split over those grid axes and the
    mean and variance are reduced over them (exact, unlike a local norm).
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$weight,
                       Optional<Tetra_FloatTensor>:$bias, F64Attr:$eps,
                       OptionalAttr<Tetra_AxesAttr>:$stat_axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

def Tetra_GeluOp : Tetra_Op<"gelu", [Tetra_ShardableOpInterface, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "GELU, exact (erf) or tanh-approximate";
  let arguments = (ins Tetra_FloatTensor:$input,
                       DefaultValuedAttr<Tetra_GeluApproxAttr, "GeluApprox::none">:$approximate);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Tetra_SiluOp : Tetra_Op<"silu", [Tetra_ShardableOpInterface, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "x * sigmoid(x)";
  let arguments = (ins Tetra_FloatTensor:$input);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Tetra_GluOp : Tetra_Op<"glu", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts"]>, Pure, AllTypesMatch<["gate", "up", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "gated linear unit: act(gate) * up (SwiGLU, GeGLU)";
  let arguments = (ins Tetra_FloatTensor:$gate, Tetra_FloatTensor:$up,
                       Tetra_GluActivationAttr:$activation);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate)";
}

def Tetra_AddOp : Tetra_Op<"add", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts"]>, Pure, AllTypesMatch<["lhs", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "elementwise sum; rhs may be a trailing-dimension broadcast";
  let description = [{
    rhs has lhs's shape or a suffix of it (a bias [H] added to [B, S, H], a
    per-head bias [heads, D] added to [B, S, heads, D]).
  }];
  let arguments = (ins Tetra_FloatTensor:$lhs, Tetra_FloatTensor:$rhs);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}

def Tetra_ScaleOp : Tetra_Op<"scale", [Tetra_ShardableOpInterface, Pure, AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "multiplication by a constant (embedding scale)";
  let arguments = (ins Tetra_FloatTensor:$input, F64Attr:$factor);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Attention and loss
//===----------------------------------------------------------------------===//

def Tetra_AttentionOp : Tetra_Op<"attention", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts"]>, Pure,
    AllTypesMatch<["query", "result"]>,
    DeclareOpInterfaceMethods<Tetra_ForwardFlopsOpInterface>,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "scaled dot-product attention (MHA, GQA, MQA)";
  let description = [{
    query [B, S, Hq, D], key and value [B, T, Hkv, D], Hq a multiple of Hkv
    (query head h reads key head h / (Hq / Hkv)). `causal` masks the future;
    `window = W` lets each query see at most the last W positions (Mistral);
    `scale` defaults to 1/sqrt(D); `loki` selects low-rank-key sparse attention.
    Query s sits at position T - S + s, or at `at + s` when the position of
    the first query is given (a decoder reading a KV cache, whose keys past
    the current position are masked as the future).
  }];
  let arguments = (ins Tetra_FloatTensor:$query, Tetra_FloatTensor:$key,
                       Tetra_FloatTensor:$value, Optional<I64>:$query_position,
                       UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$window, OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<Tetra_LokiAttr>:$loki);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`at` $query_position^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

def Tetra_CrossEntropyOp : Tetra_Op<"cross_entropy", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts", "partition"]>, Pure, InferTypeOpAdaptor,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "mean next-token cross-entropy over the kept targets";
  let description = [{
    logits [..., V], targets [...] -> scalar f32: the sum of -log softmax over
    kept targets divided by max(1, number kept). Targets equal to
    `ignore_index` are not kept; with `goldfish`, neither are the targets its
    mask drops.

    Sharded: with `vocab_axes` the logits hold this rank's slice of the
    vocabulary (max, sum of exponentials and the target's logit are reduced
    over those axes); columns at or past `vocab_size` are padding and never
    count; with `row_axes` the rows are split over those axes and the loss sum
    and the kept count are reduced over them, so every rank gets the loss of
    the whole micro-batch.
  }];
  let arguments = (ins Tetra_FloatTensor:$logits, Tetra_IndexTensor:$targets,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index,
                       OptionalAttr<Tetra_GoldfishAttr>:$goldfish,
                       OptionalAttr<Tetra_AxesAttr>:$vocab_axes,
                       OptionalAttr<I64Attr>:$vocab_size,
                       OptionalAttr<Tetra_AxesAttr>:$row_axes);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$logits `,` $targets attr-dict `:` type($logits) `,` type($targets)";
}

def Tetra_GoldfishMaskOp : Tetra_Op<"goldfish_mask", [DeclareOpInterfaceMethods<Tetra_ShardableOpInterface, ["inferLayouts"]>, Pure,
    AllShapesMatch<["targets", "result"]>]> {
  let summary = "1.0 where the goldfish rule drops a target, 0.0 elsewhere";
  let description = [{
    targets [..., S] -> f32 of the same shape; the last dimension is the
    sequence the rule runs along (the same mask `tetra.cross_entropy` applies).
  }];
  let arguments = (ins Tetra_IndexTensor:$targets, Tetra_GoldfishAttr:$goldfish);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = "$targets attr-dict `:` type($targets) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Recurrence
//===----------------------------------------------------------------------===//

def Tetra_RecurrentOp : Tetra_Op<"recurrent", [RecursiveMemoryEffects,
    SingleBlock,
    AllTypesMatch<["init", "result"]>,
    DeclareOpInterfaceMethods<Tetra_ForwardFlopsOpInterface>]> {
  let summary = "a block iterated r times with input injection";
  let description = [{
    s = init; repeat `iterations` times: s = body(inject(s, e)), where
    inject is s + e (`add`, looped arithmetic transformers) or
    adapter([s ; e]) with adapter a [H, 2H] weight (`adapter`, recurrent depth).
    The body's block argument is the injected value; it yields the next state.
    `iterations` is a runtime value; `mean_iterations` is its expected value
    (for cost estimates) and `grad_iterations` the number of final iterations
    that truncated backpropagation differentiates.
  }];
  let arguments = (ins AnySignlessIntegerOrIndex:$iterations,
                       Tetra_FloatTensor:$init, Tetra_FloatTensor:$inject,
                       Optional<Tetra_FloatTensor>:$adapter,
                       Tetra_InjectionAttr:$mode, I64Attr:$mean_iterations,
                       DefaultValuedAttr<I64Attr, "8">:$grad_iterations);
  let results = (outs Tetra_FloatTensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $iterations `,` $init `,` $inject (`adapter` $adapter^)? attr-dict
    `:` type($iterations) `,` type($init) `,` type($inject) (`,` type($adapter)^)?
    $body
  }];
  let hasRegionVerifier = 1;
}

def Tetra_YieldOp : Tetra_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"RecurrentOp">]> {
  let summary = "the next state of a recurrent block";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Tetra_AdamWOp : Tetra_Op<"adamw", [Pure,
    AllTypesMatch<["param", "grad", "m", "v", "new_param", "new_m", "new_v"]>]> {
  let summary = "one AdamW step (decoupled weight decay, bias correction)";
  let description = [{
    m' = b1 m + (1-b1) g; v' = b2 v + (1-b2) g^2;
    p' = p - lr (wd p + (m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps)), t = step,
    where g is the gradient times `grad_scale` (global-norm clipping) if given.
  }];
  let arguments = (ins Tetra_FloatTensor:$param, Tetra_FloatTensor:$grad,
                       Tetra_FloatTensor:$m, Tetra_FloatTensor:$v, F32:$lr, I64:$step,
                       Optional<F32>:$grad_scale,
                       DefaultValuedAttr<F64Attr, "0.9">:$beta1,
                       DefaultValuedAttr<F64Attr, "0.95">:$beta2,
                       DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
                       DefaultValuedAttr<F64Attr, "0.1">:$weight_decay);
  let results = (outs Tetra_FloatTensor:$new_param, Tetra_FloatTensor:$new_m,
                      Tetra_FloatTensor:$new_v);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `lr` $lr `step` $step
    (`grad_scale` $grad_scale^)? attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Kernels on buffers (GPU lowering)
//===----------------------------------------------------------------------===//

def Tetra_FlashAttentionOp : Tetra_Op<"flash_attention", [AttrSizedOperandSegments]> {
  let summary = "tetra.attention on buffers, for a fused GPU kernel";
  let description = [{
    Writes into `result` what tetra.attention computes from query, key and
    value (same shapes, masks and scale; no Loki). convert-tetra-to-linalg
    emits it, with `flash-attention`, between bufferization.to_buffer and
    to_tensor, so bufferization passes it through; the GPU lowering makes
    it one tensor-core kernel that never holds the scores in global memory
    (online softmax). With `logsumexp` [B, S, Hq] it also writes each
    row's log-sum-exp of the scaled scores, which the backward reuses.
    Query, key, value and the result may be stored as bf16 (`--storage
    bf16`); the kernel computes in fp32 either way and rounds the result
    once, as it stores it.
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemWrite]>:$result,
                       Arg<Optional<MemRefRankOf<[F32], [3]>>, "", [MemWrite]>:$logsumexp,
                       Optional<I64>:$query_position, UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$window, OptionalAttr<F64Attr>:$scale);
  let assemblyFormat = [{
    $query `,` $key `,` $value `into` $result (`logsumexp` $logsumexp^)?
    (`at` $query_position^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($result)
    (`,` type($logsumexp)^)?
  }];
  let hasVerifier = 1;
}

def Tetra_FlashAttentionGradOp : Tetra_Op<"flash_attention_grad"> {
  let summary = "tetra.attention_grad on buffers, for fused GPU kernels";
  let description = [{
    Writes the gradients of tetra.attention for query, key and value from
    the output gradient `grad`, the forward's `logsumexp` [B, S, Hq] and
    `delta` [B, S, Hq], each row's sum of grad * output (FlashAttention-2's
    backward). Queries sit at positions T - S + s. The GPU lowering makes
    it two tensor-core kernels that recompute the probabilities tile by
    tile: one a block of queries (query gradient), one a block of keys
    (key and value gradients, summed over the query heads that share them).
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemRead]>:$grad,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$logsumexp,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$delta,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemWrite]>:$query_grad,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemWrite]>:$key_grad,
                       Arg<MemRefRankOf<[F32, BF16], [4]>, "", [MemWrite]>:$value_grad,
                       UnitAttr:$causal, OptionalAttr<I64Attr>:$window,
                       OptionalAttr<F64Attr>:$scale);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $grad `,` $logsumexp `,` $delta `into` $query_grad `,`
    $key_grad `,` $value_grad attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($grad) `,` type($logsumexp) `,` type($delta) `,` type($query_grad) `,`
    type($key_grad) `,` type($value_grad)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradients (built by tetra-autodiff)
//===----------------------------------------------------------------------===//

def Tetra_EmbeddingGradOp : Tetra_Op<"embedding_grad", [Pure]> {
  let summary = "gradient of an embedding table: rows accumulated by token id";
  let arguments = (ins Tetra_FloatTensor:$grad, Tetra_IndexTensor:$indices,
                       OptionalAttr<Tetra_AxesAttr>:$vocab_axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $indices attr-dict `:` type($grad) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tetra_RMSNormGradOp : Tetra_Op<"rmsnorm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad"]>]> {
  let summary = "gradients of tetra.rmsnorm for its input and scale";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$weight,
                       Tetra_FloatTensor:$grad, F64Attr:$eps, UnitAttr:$unit_offset,
                       OptionalAttr<Tetra_AxesAttr>:$stat_axes);
  let results = (outs Tetra_FloatTensor:$input_grad, Tetra_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad attr-dict `:` type($input) `,` type($weight)
  }];
}

def Tetra_LayerNormGradOp : Tetra_Op<"layernorm_grad", [Pure,
    AllTypesMatch<["input", "grad", "input_grad"]>,
    AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let summary = "gradients of tetra.layernorm for its input, scale and shift";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$weight,
                       Tetra_FloatTensor:$grad, F64Attr:$eps,
                       OptionalAttr<Tetra_AxesAttr>:$stat_axes);
  let results = (outs Tetra_FloatTensor:$input_grad, Tetra_FloatTensor:$weight_grad,
                      Tetra_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $grad attr-dict `:` type($input) `,` type($weight)
  }];
}

def Tetra_LinearWeightGradOp : Tetra_Op<"linear_weight_grad", [Pure]> {
  let summary = "gradient of a linear layer's weight: dY^T X over all rows";
  let description = [{
    input [..., K], grad [..., N] -> [N, K] ([K, N] with `weight_in_out`).
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$grad,
                       UnitAttr:$weight_in_out);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $grad attr-dict `:` type($input) `,` type($grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tetra_SumLeadingOp : Tetra_Op<"sum_leading", [Pure]> {
  let summary = "sum over leading dimensions down to a suffix of the shape";
  let description = [{
    The gradient of a broadcast: [B, S, H] -> [H] for a bias.
  }];
  let arguments = (ins Tetra_FloatTensor:$input);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Tetra_GeluGradOp : Tetra_Op<"gelu_grad", [Pure,
    AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "gradient of tetra.gelu";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$grad,
                       DefaultValuedAttr<Tetra_GeluApproxAttr, "GeluApprox::none">:$approximate);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($input)";
}

def Tetra_SiluGradOp : Tetra_Op<"silu_grad", [Pure,
    AllTypesMatch<["input", "grad", "result"]>]> {
  let summary = "gradient of tetra.silu";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_FloatTensor:$grad);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($input)";
}

def Tetra_GluGradOp : Tetra_Op<"glu_grad", [Pure,
    AllTypesMatch<["gate", "up", "grad", "gate_grad", "up_grad"]>]> {
  let summary = "gradients of tetra.glu for the gate and the up projection";
  let arguments = (ins Tetra_FloatTensor:$gate, Tetra_FloatTensor:$up,
                       Tetra_FloatTensor:$grad, Tetra_GluActivationAttr:$activation);
  let results = (outs Tetra_FloatTensor:$gate_grad, Tetra_FloatTensor:$up_grad);
  let assemblyFormat = "$gate `,` $up `,` $grad attr-dict `:` type($gate)";
}

def Tetra_AttentionGradOp : Tetra_Op<"attention_grad", [Pure,
    AllTypesMatch<["query", "grad", "query_grad"]>,
    AllTypesMatch<["key", "value", "key_grad", "value_grad"]>]> {
  let summary = "gradients of tetra.attention (recomputes the probabilities)";
  let arguments = (ins Tetra_FloatTensor:$query, Tetra_FloatTensor:$key,
                       Tetra_FloatTensor:$value, Tetra_FloatTensor:$grad,
                       UnitAttr:$causal, OptionalAttr<I64Attr>:$window,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs Tetra_FloatTensor:$query_grad, Tetra_FloatTensor:$key_grad,
                      Tetra_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $grad attr-dict `:` type($query) `,` type($key)
  }];
}

def Tetra_CrossEntropyGradOp : Tetra_Op<"cross_entropy_grad", [Pure,
    AllTypesMatch<["logits", "result"]>]> {
  let summary = "gradient of the mean cross-entropy for the logits";
  let description = [{
    (softmax(logits) - onehot(target)) * grad / max(1, kept) on kept rows, 0 on
    ignored ones (and on those `goldfish` drops); `grad` is the scalar
    gradient of the loss.
  }];
  let arguments = (ins Tetra_FloatTensor:$logits, Tetra_IndexTensor:$targets,
                       0DTensorOf<[F32]>:$grad,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index,
                       OptionalAttr<Tetra_GoldfishAttr>:$goldfish,
                       OptionalAttr<Tetra_AxesAttr>:$vocab_axes,
                       OptionalAttr<I64Attr>:$vocab_size,
                       OptionalAttr<Tetra_AxesAttr>:$row_axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $targets `,` $grad attr-dict `:` type($logits) `,` type($targets)
    `,` type($grad)
  }];
}

//===----------------------------------------------------------------------===//
// Collectives over grid axes
//===----------------------------------------------------------------------===//

class Tetra_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : Tetra_Op<mnemonic, traits> {
  let hasVerifier = 1;
}

def Tetra_AllGatherOp : Tetra_CollectiveOp<"all_gather", [Pure,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "concatenate the shards of the group along `dim`";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes, I64Attr:$dim);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) `dim` $dim attr-dict
    `:` type($input) `->` type($result)
  }];
}

def Tetra_ReduceScatterOp : Tetra_CollectiveOp<"reduce_scatter", [Pure,
    DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "reduce over the group, keep this rank's slice of `dim`";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes, I64Attr:$dim,
                       DefaultValuedAttr<Tetra_ReduceKindAttr, "ReduceKind::sum">:$kind);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) `dim` $dim attr-dict
    `:` type($input) `->` type($result)
  }];
}

def Tetra_AllReduceOp : Tetra_CollectiveOp<"all_reduce",
    [Pure, AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "reduce over the group; every rank gets the result";
  let description = [{
    Gradients follow the replicated-loss convention of tensor parallelism:
    every rank of the group computes the same downstream loss, so the
    gradient of a sum passes through unchanged (its conjugate is
    `tetra.fan_out`).
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes,
                       DefaultValuedAttr<Tetra_ReduceKindAttr, "ReduceKind::sum">:$kind);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) attr-dict `:` type($input)
  }];
}

def Tetra_FanOutOp : Tetra_CollectiveOp<"fan_out",
    [Pure, AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<Tetra_DifferentiableOpInterface>]> {
  let summary = "a value every rank of the group uses: identity, gradient summed";
  let description = [{
    Marks a value that is replicated over the group and consumed by work
    split over it (the input of a layer whose output features are split).
    Forward it is the identity; its gradient is the all_reduce of the
    ranks' partial gradients over the group.
  }];
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) attr-dict `:` type($input)
  }];
}

def Tetra_AllGatherStartOp : Tetra_CollectiveOp<"all_gather_start"> {
  let summary = "start an all_gather; `tetra.wait` yields its result";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes, I64Attr:$dim);
  let results = (outs Tetra_TokenType:$token);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) `dim` $dim attr-dict
    `:` type($input) `->` qualified(type($token))
  }];
}

def Tetra_ReduceScatterStartOp : Tetra_CollectiveOp<"reduce_scatter_start"> {
  let summary = "start a reduce_scatter; `tetra.wait` yields its result";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes, I64Attr:$dim,
                       DefaultValuedAttr<Tetra_ReduceKindAttr, "ReduceKind::sum">:$kind);
  let results = (outs Tetra_TokenType:$token);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) `dim` $dim attr-dict
    `:` type($input) `->` qualified(type($token))
  }];
}

def Tetra_AllReduceStartOp : Tetra_CollectiveOp<"all_reduce_start"> {
  let summary = "start an all_reduce; `tetra.wait` yields its result";
  let arguments = (ins Tetra_FloatTensor:$input, Tetra_AxesAttr:$axes,
                       DefaultValuedAttr<Tetra_ReduceKindAttr, "ReduceKind::sum">:$kind);
  let results = (outs Tetra_TokenType:$token);
  let assemblyFormat = [{
    $input `over` custom<GridAxes>($axes) attr-dict `:` type($input) `->` qualified(type($token))
  }];
}

def Tetra_WaitOp : Tetra_Op<"wait", [InferTypeOpAdaptor]> {
  let summary = "wait for a collective; yields its result";
  let arguments = (ins Tetra_TokenType:$token);
  let results = (outs Tetra_FloatTensor:$result);
  let assemblyFormat = "$token attr-dict `:` qualified(type($token))";
}

#endif // TETRA_OPS_TD
