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

def FuseElementwise : Pass<"tetra-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "Fuse chains of elementwise linalg ops into one loop nest";
  let description = [{
    Upstream's elementwise fusion, limited to what pays on the CPU: a producer
    with one use, both ops fully parallel (norm scaling + residual add, bias
    + activation, the GLU), never into a contraction, which stays a BLAS call.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def ConvertContractionsToBlas
    : Pass<"convert-contractions-to-blas", "::mlir::ModuleOp"> {
  let summary = "Call a tuned BLAS for the large matrix products";
  let description = [{
    Runs after bufferization. Every 2-D contraction linalg.generic on f32
    memrefs (loops i, j parallel, r reduced; C[i, j] += A[i, r] B[r, j] with
    either operand possibly transposed) becomes a call of
    `tetra_sgemm(transA, transB, A, B, C)`, which accumulates into C with
    cblas_sgemm (beta = 1, so C's initial value, zeros or a bias, is kept).
    The runtime provides `tetra_sgemm`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // TETRA_CONVERSION_PASSES_TD
