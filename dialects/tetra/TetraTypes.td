//===- TetraTypes.td - types of the tetra dialect ------------*- tablegen -*-===//
#ifndef TETRA_TYPES_TD
#define TETRA_TYPES_TD

include "mlir/IR/AttrTypeBase.td"
include "TetraDialect.td"

// The handle of an asynchronous collective: `*_start` produces it, `tetra.wait`
// consumes it and yields the collective's result, whose type the token carries.
def Tetra_TokenType : TypeDef<Tetra_Dialect, "Token"> {
  let mnemonic = "token";
  let summary = "handle of an in-flight collective";
  let parameters = (ins "::mlir::Type":$result);
  let assemblyFormat = "`<` $result `>`";
}

#endif // TETRA_TYPES_TD
