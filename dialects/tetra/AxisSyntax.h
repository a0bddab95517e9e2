//===- AxisSyntax.h - textual form of grid-axis lists ---------------------===//
//
// `[x, z]` in collectives and layouts; `y*z` for one split dimension.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_AXISSYNTAX_H
#define TETRA_AXISSYNTAX_H

#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/SmallVector.h"

namespace mlir::tetra {
/// Parses one axis name (x, y, z, data).
ParseResult parseAxis(AsmParser &parser, int32_t &axis);
/// Parses `[axis, ...]` (possibly empty).
ParseResult parseAxisList(AsmParser &parser, llvm::SmallVectorImpl<int32_t> &axes);
/// Prints `[axis, ...]`.
void printAxisList(AsmPrinter &printer, llvm::ArrayRef<int32_t> axes);
/// Name of an axis value, or `<invalid>`.
llvm::StringRef axisName(int32_t axis);
/// Checks that every value names an axis and none repeats; emits through
/// `emitError` otherwise.
LogicalResult verifyAxisList(llvm::function_ref<InFlightDiagnostic()> emitError,
                             llvm::ArrayRef<int32_t> axes, llvm::StringRef what);

/// The `custom<GridAxes>` directive of the collectives: `[x, z]`.
ParseResult parseGridAxes(OpAsmParser &parser, DenseI32ArrayAttr &axes);
void printGridAxes(OpAsmPrinter &printer, Operation *op, DenseI32ArrayAttr axes);
} // namespace mlir::tetra

#endif // TETRA_AXISSYNTAX_H
