//===- EntryRoles.h - what each argument of an entry point is -------------===//
//
// Entry points carry `tetra.role` (and `tetra.name` for per-parameter values)
// on their arguments and results; tetra-compile writes them into the
// artifact's manifest and the runtime binds tensors by them.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_TRANSFORMS_ENTRYROLES_H
#define TETRA_TRANSFORMS_ENTRYROLES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tetra {
inline constexpr llvm::StringLiteral kRoleAttr = "tetra.role";
inline constexpr llvm::StringLiteral kNameAttr = "tetra.name";

/// Marks argument `index` of `func` (name may be empty).
void setArgRole(func::FuncOp func, unsigned index, StringRef role, StringRef name = {});
/// Marks result `index` of `func`.
void setResultRole(func::FuncOp func, unsigned index, StringRef role,
                   StringRef name = {});
} // namespace mlir::tetra

#endif // TETRA_TRANSFORMS_ENTRYROLES_H
