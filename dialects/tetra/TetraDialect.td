//===- TetraDialect.td - the tetra model-level dialect ------*- tablegen -*-===//
#ifndef TETRA_DIALECT_TD
#define TETRA_DIALECT_TD

include "mlir/IR/OpBase.td"

def Tetra_Dialect : Dialect {
  let name = "tetra";
  let cppNamespace = "::mlir::tetra";
  let summary = "Transformer models, their parameters and their 4D distribution";
  let description = [{
    Ops at the granularity people think in (linear, attention, rmsnorm, ...),
    parameters as symbols with Hugging Face-compatible names, and the AxoNN-style
    4D grid (x, y, z, data) with per-tensor layouts and collectives.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let usePropertiesForAttributes = 1;
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect"
  ];
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

class Tetra_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tetra_Dialect, mnemonic, traits>;

#endif // TETRA_DIALECT_TD
