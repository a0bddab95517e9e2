//===- Passes.td - conversions out of tetra ---------------------*- tablegen -*-===//
#ifndef TETRA_CONVERSION_PASSES_TD
#define TETRA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTetraToLinalg : Pass<"convert-tetra-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower tetra's model ops to linalg, tensor, arith and math";
  let description = [{
    Each op becomes linalg.generic ops on tensors (static shapes): embeddings
    gather rows, norms reduce then scale, linear layers contract, attention
    computes masked scores, a stable softmax and the weighted sum of values,
    cross-entropy takes a per-row logsumexp. Ops without a CPU lowering yet
    (recurrent blocks, Abacus, Loki, goldfish, collectives, AdamW) are
    reported with their location.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"
  ];
}

#endif // TETRA_CONVERSION_PASSES_TD
