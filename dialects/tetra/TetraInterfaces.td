//===- TetraInterfaces.td - op interfaces of tetra -----------*- tablegen -*-===//
#ifndef TETRA_INTERFACES_TD
#define TETRA_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Tetra_ForwardFlopsOpInterface : OpInterface<"ForwardFlopsOpInterface"> {
  let cppNamespace = "::mlir::tetra";
  let description = [{
    Matrix FLOPs of one forward evaluation, per token, at a given sequence
    length. Ops with matrix products implement it; elementwise ops do not count
    (the convention of the field's FLOP formulas).
  }];
  let methods = [
    InterfaceMethod<"Forward FLOPs per token at sequence length `seqLen`.",
      "double", "getForwardFlopsPerToken", (ins "int64_t":$seqLen)>
  ];
}

def Tetra_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::tetra";
  let description = [{
    The op's vector-Jacobian product: given the gradients of its results, it
    builds the gradients of its operands. tetra-autodiff walks a function
    backwards through this interface, so a new op brings its own rule.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the operand gradients at `builder`'s insertion point.
        `resultGrads` has one entry per result (null: no gradient reaches it);
        `operandGrads` comes in with one null entry per operand and leaves with
        the gradient of every differentiable operand that has one.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>
  ];
}

#endif // TETRA_INTERFACES_TD
