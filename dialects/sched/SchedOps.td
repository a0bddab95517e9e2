//===- SchedOps.td - the schedule dialect ----------------------*- tablegen -*-===//
//
// What the runtime executes for one training step: launches of the artifact's
// entry points and the host operations between them, on named buffer sets.
//
//===----------------------------------------------------------------------===//
#ifndef SCHED_OPS_TD
#define SCHED_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"

def Sched_Dialect : Dialect {
  let name = "sched";
  let cppNamespace = "::mlir::sched";
  let summary = "Plans: what the runtime runs for a step, in order";
  let description = [{
    A plan names buffer sets rather than SSA values: `param`, `grad`, `m`, `v`
    (one tensor per parameter), `loss` (a scalar), and sets a plan creates
    with `sched.zero`. `sched.launch @entry` binds every argument of an
    entry point by its role (docs/artifact.md), `bind` renaming sets
    (`{grad = "grad_sum"}`); its results land in the sets named by their
    roles. Plans serialise to the artifact's plan.json.
  }];
}

class Sched_Op<string mnemonic, list<Trait> traits = []>
    : Op<Sched_Dialect, mnemonic, traits>;

def Sched_PlanOp : Sched_Op<"plan", [Symbol, SingleBlock, NoTerminator,
    IsolatedFromAbove]> {
  let summary = "a named plan";
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$version);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Sched_RepeatOp : Sched_Op<"repeat", [SingleBlock, NoTerminator]> {
  let summary = "run the body `count` times (once per micro-batch)";
  let arguments = (ins I64Attr:$count);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$count attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Sched_LoadBatchOp : Sched_Op<"load_batch"> {
  let summary = "cut the next micro-batch (tokens, targets) from the data";
  let assemblyFormat = "attr-dict";
}

def Sched_LaunchOp : Sched_Op<"launch"> {
  let summary = "call an entry point of the artifact's kernels";
  let arguments = (ins FlatSymbolRefAttr:$entry,
                       OptionalAttr<DictionaryAttr>:$bind);
  let assemblyFormat = "$entry attr-dict";
  let hasVerifier = 1;
}

def Sched_ZeroOp : Sched_Op<"zero"> {
  let summary = "a buffer set of zeros, shaped like `like`";
  let arguments = (ins StrAttr:$buffers, StrAttr:$like);
  let assemblyFormat = "$buffers `like` $like attr-dict";
}

def Sched_AccumulateOp : Sched_Op<"accumulate"> {
  let summary = "add a buffer set into another, tensor by tensor";
  let arguments = (ins StrAttr:$from, StrAttr:$into);
  let assemblyFormat = "$from `into` $into attr-dict";
}

def Sched_ScaleOp : Sched_Op<"scale"> {
  let summary = "multiply a buffer set by a constant";
  let arguments = (ins StrAttr:$buffers, F64Attr:$factor);
  let assemblyFormat = "$buffers `by` $factor attr-dict";
  let hasVerifier = 1;
}

def Sched_ReduceGradientsOp : Sched_Op<"reduce_gradients"> {
  let summary = "sum a gradient set over the ranks that saw other data";
  let description = [{
    After the backward passes of a step: each parameter's gradient is summed
    over the grid axes on which ranks hold the same shard of it but computed
    it on other samples -- data, and z for parameters not split over z (the
    manifest's layouts say which). AxoNN's data-parallel all-reduce.
  }];
  let arguments = (ins StrAttr:$buffers);
  let assemblyFormat = "$buffers attr-dict";
}

def Sched_ClipNormOp : Sched_Op<"clip_norm"> {
  let summary = "global-norm clipping of a buffer set at the runtime's --clip";
  let description = [{
    Computes the global L2 norm of the set (reported as the step's gradient
    norm; on a grid, over every rank's shard, each shard counted once) and the factor min(1, clip / (norm + 1e-6)) that the next launch
    receives as its `grad_scale`.
  }];
  let arguments = (ins StrAttr:$buffers);
  let assemblyFormat = "$buffers attr-dict";
}

#endif // SCHED_OPS_TD
