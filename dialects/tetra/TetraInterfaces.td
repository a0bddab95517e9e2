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

#endif // TETRA_INTERFACES_TD
