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
    ids' shape), the mean over targets not equal to `ignore-index`.
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

#endif // TETRA_TRANSFORMS_PASSES_TD
