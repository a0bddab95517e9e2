//===- Passes.td - the cost-model pass ------------------------*- tablegen -*-===//
#ifndef TETRA_COSTMODEL_PASSES_TD
#define TETRA_COSTMODEL_PASSES_TD

include "mlir/Pass/PassBase.td"

def CostModel : Pass<"tetra-cost-model", "::mlir::ModuleOp"> {
  let summary = "Predict a training step on a machine for every 4D grid; pick one";
  let description = [{
    Reads a model module with static shapes (`tetra-translate --import-config
    --import-batch B --import-seq-len S`: the micro-batch and the sequence)
    and a machine file, and for every power-of-two grid of `gpus` devices
    (and every `overlaps` setting) builds the training program the compiler
    would build, simulates one step (kernels on the compute stream,
    collectives on the communication thread in start order, waits where the
    kernels block) and counts memory per device. Grids that do not divide
    or do not fit are rejected with their reason; the rest are ranked by
    predicted step time. The winner is recorded on the module as
    `tetra.cost_model = {grid = #tetra.grid<...>, overlap, recompute,
    step_s, exposed_s, memory_bytes, mfu, ...}`; the model itself is left as
    it was. `report` prints the top configurations to stdout.

    `mode=reference` is AxoNN's communication-only model (ALGORITHMS.md §1):
    bytes per axis by the published formulas over the machine's
    `reference_bus_gbps` table, no compute, latency, memory or overlap.
  }];
  let options = [
    Option<"machine", "machine", "std::string", /*default=*/"\"cpu\"",
           "Machine file, or frontier, alps, perlmutter, cpu">,
    Option<"gpus", "gpus", "int64_t", /*default=*/"1", "Devices (a power of two)">,
    Option<"globalBatch", "global-batch", "int64_t", /*default=*/"0",
           "Samples per step (0: the module's micro-batch)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"0",
           "Sequence length (0: the module's; must match it otherwise)">,
    Option<"mode", "mode", "std::string", /*default=*/"\"full\"",
           "full (compute, communication, overlap, memory) or reference (AxoNN's model)">,
    Option<"overlaps", "overlaps", "std::string", /*default=*/"\"all;none\"",
           "Overlap settings tried for each grid, separated by ';'">,
    Option<"grid", "grid", "std::string", /*default=*/"\"\"",
           "Predict this grid only (XxYxZxD)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the top configurations and why the winner wins">,
    Option<"top", "top", "int64_t", /*default=*/"5", "Configurations the report shows">,
    Option<"reportJson", "report-json", "std::string", /*default=*/"\"\"",
           "Write the whole ranking as JSON to this file">,
    Option<"minTensorParallel", "min-tensor-parallel", "int64_t", /*default=*/"1",
           "reference mode: the smallest x*y*z (the model's memory floor)">
  ];
}

#endif // TETRA_COSTMODEL_PASSES_TD
