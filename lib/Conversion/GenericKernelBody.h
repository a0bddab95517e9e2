//===- GenericKernelBody.h - a linalg.generic's body inside a kernel ------===//
#ifndef TETRA_LIB_CONVERSION_GENERICKERNELBODY_H
#define TETRA_LIB_CONVERSION_GENERICKERNELBODY_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::tetra {

/// The element of `memory` at loop point `ivs`, through the operand's
/// indexing map.
Value loadThroughMap(OpBuilder &b, Location loc, Value memory, AffineMap map, ValueRange ivs);
void storeThroughMap(OpBuilder &b, Location loc, Value value, Value memory, AffineMap map,
                     ValueRange ivs);

/// The generic's body at loop point `ivs` (one value per loop), with `outs`
/// as the current values of its outputs; returns what it yields. `map`
/// holds the kernel's values for the generic's operands.
SmallVector<Value> evaluateBody(OpBuilder &b, linalg::GenericOp op, IRMapping &map,
                                ArrayRef<Value> ivs, ValueRange outs);

/// The generic's outputs at loop point `ivs` (one value per loop) replaced
/// by what its body yields there: loaded, evaluated, stored.
void updateAtPoint(OpBuilder &b, Location loc, linalg::GenericOp op, IRMapping &map,
                   ArrayRef<Value> ivs);

/// Writes into `ivs` the loop indices of `dims` (row-major, the last
/// fastest) that the linear index `linear` stands for.
void delinearize(OpBuilder &b, Location loc, Value linear, ArrayRef<unsigned> dims,
                 ArrayRef<int64_t> ranges, SmallVectorImpl<Value> &ivs);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_GENERICKERNELBODY_H
