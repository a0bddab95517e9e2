//===- Passes.td - tetra passes --------------------------------*- tablegen -*-===//
#ifndef TETRA_TRANSFORMS_PASSES_TD
#define TETRA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ModelStats : Pass<"tetra-model-stats", "::mlir::ModuleOp"> {
  let summary = "Print the model's parameter count, layers and forward FLOPs";
  let description = [{
    Prints one `name: value` line each to stdout, then leaves the IR unchanged:

    - `parameters`: elements of all `tetra.param`s (tied weights count once);
    - `parameter-tensors`: number of `tetra.param`s;
    - `layers`: transformer blocks, from the module's `tetra.model`;
    - `seq-len`: the sequence length used below (the model's context length
      unless `seq-len` is given);
    - `forward-flops-per-token`: matrix FLOPs of one forward pass per token,
      2*K*N per linear layer (the LM head included) plus 4*heads*head_dim*keys
      per attention, keys being the average number of keys a query sees
      (S/2 causal; W - W^2/(2S) with a sliding window W < S); recurrent blocks
      count `mean_iterations` times. Elementwise work is not counted.
  }];
  let options = [
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"0",
           "Sequence length for the FLOP count (0: the model's context length)">
  ];
}

def AddLoss : Pass<"tetra-add-loss", "::mlir::ModuleOp"> {
  let summary = "Add `@loss`: cross-entropy of `@forward`'s logits";
  let description = [{
    Clones `@forward` into `func.func @loss(forward's arguments..., %targets)`
    that returns `tetra.cross_entropy` of the logits against `%targets` (the
    ids' shape), the mean over targets not equal to `ignore-index`. With
    `goldfish`, the loss drops the targets the mask selects, and two more
    functions come with it: `@eval_loss` (the same without the mask: the
    validation loss) and `@goldfish_mask(%targets)` (1.0 where a target is
    dropped).
  }];
  let options = [
    Option<"ignoreIndex", "ignore-index", "int64_t", /*default=*/"-100",
           "Target id that is not counted">,
    Option<"goldfish", "goldfish", "std::string", /*default=*/"",
           "Goldfish loss, as the body of #tetra.goldfish<...> (e.g. `hash, k = 4, h = 13`)">
  ];
}

def ParamsToArguments : Pass<"tetra-params-to-arguments", "::mlir::ModuleOp"> {
  let summary = "Pass parameters to the entry functions as arguments";
  let description = [{
    Every public function gets one trailing argument per `tetra.param`, in the
    module's order (the artifact's ABI), and its `tetra.get_param` ops use
    them. The `tetra.param` symbols stay: they describe the arguments.
  }];
}

def Autodiff : Pass<"tetra-autodiff", "::mlir::ModuleOp"> {
  let summary = "Build the training entry points from `@loss`";
  let description = [{
    Adds two functions:

    - `@grad(loss's arguments) -> (loss, one gradient per tetra.param)`: the
      loss, then its backward pass, built op by op in reverse through each
      op's DifferentiableOpInterface (tensor reshapes and slices included);
      gradients of a value used several times are summed.
    - `@update(%lr: f32, %step: i64, %grad_scale: f32, gradients..., first
      moments..., second moments...) -> (parameters..., first moments...,
      second moments...)`: one `tetra.adamw` per parameter, with weight decay
      on parameters of rank >= 2 only. `grad_scale` multiplies the gradients
      (global-norm clipping); `step` counts from 1.

    The runtime runs `@grad` once per micro-batch, sums the gradients
    (gradient accumulation), clips them, and runs `@update`.
  }];
  let options = [
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.95", "AdamW beta2">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.1",
           "Decoupled weight decay of parameters of rank >= 2">
  ];
}

def Shard : Pass<"tetra-shard", "::mlir::ModuleOp"> {
  let summary = "Lay out every parameter and activation on a 4D grid (AxoNN)";
  let description = [{
    Puts `tetra.grid` on the module and gives every value a `#tetra.layout`
    by asking each op's ShardableOpInterface, from the token arguments
    (samples over data*z) forward:

    - linear layers alternate as in AxoNN: a normal layer reads features
      over x and writes them over y, a `transposed` one the reverse; weights
      are split [out, in] over (y, x) (transposed: (x, y)) and their block
      again over z after flattening (`flat = [z]`); biases over the output
      axis;
    - attention heads over y (so the key/value heads must divide by y);
    - the embedding and the LM head are vocabulary-parallel (vocabulary over
      y, features over x); the vocabulary is padded to a multiple of y;
    - norms keep the features over x and are made exact in tetra-partition;
    - the loss is vocabulary-parallel over y and row-parallel over data*z.

    Results are recorded as `tetra.layouts` on each op and `tetra.layout` on
    the function arguments; parameters get their `layout`. Any split that
    does not divide (other than the vocabulary) is an error naming the op,
    the dimension, its size and the axis; an op without a rule is an error.
  }];
  let options = [
    Option<"grid", "grid", "std::string", /*default=*/"\"1x1x1x1\"",
           "Grid sizes XxYxZxD (x, y, z tensor-parallel, D data-parallel)">
  ];
}

def Partition : Pass<"tetra-partition", "::mlir::ModuleOp"> {
  let summary = "Rewrite a sharded model on local shapes with explicit collectives";
  let description = [{
    Consumes tetra-shard's layouts: every tensor takes the shape one rank
    holds, parameters get their `local` type, and each op's rule inserts the
    collectives of AxoNN's algorithm on named grid axes: the weight
    all_gather over z (reshaped to the rank's block), the all_reduce over x
    (normal layers) or y (transposed) of the partial products, `fan_out` on
    the replicated input (whose gradient tetra-autodiff turns into the
    backward all_reduce over y or x), and the vocabulary all_reduce of the
    embedding. Norms and the loss get the axes their statistics are reduced
    over (`stat_axes`, `vocab_axes`, `row_axes`). Collectives over a single
    rank are not emitted, so a 1x1x1x1 grid leaves the model unchanged.
  }];
}

def Overlap : Pass<"tetra-overlap", "::mlir::ModuleOp"> {
  let summary = "Turn collectives into start/wait pairs, moved apart";
  let description = [{
    Each selected collective becomes `*_start` (its input taken, the
    communication under way) and `tetra.wait` (its result ready). Starts move
    as early as their input allows, waits as late as their first use, so the
    work between them (other layers' GEMMs, the dW product, the rest of the
    backward pass) runs while the collective progresses:

    - `oag`: weight all-gathers over z start `prefetch` gathers ahead of
      their use (AxoNN's one-layer lookahead is 1), fewer when the gathered
      bytes in flight would pass `memory-budget`;
    - `ors`: the reduce-scatters of dW are waited only where their result is
      needed (the end of the backward pass);
    - `oar`: the backward all-reduces of dX overlap the dW product and the
      rest of the layer's backward;
    - `forward-all-reduce`: the forward partial-sum all-reduces overlap the
      independent GEMMs after them (q, k and v; gate and up), and each is cut
      into `forward-chunks` pieces along the samples, so that the sum of one
      piece travels while the next piece's GEMM runs;
    - `gradient-all-reduce` (off by default; tetra-compile turns it on when a
      step is one micro-batch): `@grad` sums each parameter's gradient over
      data (and z, when the parameter is not split over z) itself, in buckets
      of at least `bucket-bytes`, each started as soon as its last gradient
      exists during the backward pass.

    Every option is on by default. The program order of the starts is the
    same on every rank, so the collectives are issued in one order
    everywhere.
  }];
  let options = [
    Option<"oag", "oag", "bool", /*default=*/"true", "Prefetch weight all-gathers">,
    Option<"ors", "ors", "bool", /*default=*/"true", "Overlap dW reduce-scatters">,
    Option<"oar", "oar", "bool", /*default=*/"true", "Overlap backward dX all-reduces">,
    Option<"forwardAllReduce", "forward-all-reduce", "bool", /*default=*/"true",
           "Overlap forward all-reduces with the independent work after them">,
    Option<"forwardChunks", "forward-chunks", "int64_t", /*default=*/"2",
           "Pieces a forward all-reduce and its GEMM are cut into (1: whole)">,
    Option<"gradientAllReduce", "gradient-all-reduce", "bool", /*default=*/"false",
           "Data-parallel gradient all-reduce in @grad, bucketed, during backward">,
    Option<"bucketBytes", "bucket-bytes", "int64_t", /*default=*/"1048576",
           "Smallest bucket of the gradient all-reduce">,
    Option<"prefetch", "prefetch", "int64_t", /*default=*/"1",
           "All-gathers in flight ahead of the one being used">,
    Option<"memoryBudget", "memory-budget", "int64_t", /*default=*/"0",
           "Most bytes of gathered weights in flight (0: no limit)">
  ];
}

#endif // TETRA_TRANSFORMS_PASSES_TD
