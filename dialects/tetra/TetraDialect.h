//===- TetraDialect.h - the tetra dialect, its attributes and types -------===//
#ifndef TETRA_TETRADIALECT_H
#define TETRA_TETRADIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include "tetra/TetraDialect.h.inc"
#include "tetra/TetraEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "tetra/TetraAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "tetra/TetraTypes.h.inc"

namespace mlir::tetra {
/// Name of the discardable attribute that carries the grid of a module or
/// function (`tetra.grid = #tetra.grid<...>`).
inline constexpr llvm::StringLiteral kGridAttrName = "tetra.grid";
/// Name of the module attribute with the importer's model summary.
inline constexpr llvm::StringLiteral kModelAttrName = "tetra.model";

/// The grid of the closest enclosing op that has one, or null.
GridAttr lookupGrid(Operation *op);
} // namespace mlir::tetra

#endif // TETRA_TETRADIALECT_H
