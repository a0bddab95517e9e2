//===- TetraOps.h - operations of the tetra dialect -----------------------===//
#ifndef TETRA_TETRAOPS_H
#define TETRA_TETRAOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "tetra/TetraDialect.h"

namespace mlir::tetra {
class ShardingState;
/// ShardableOpInterface's defaults (elementwise ops): every result laid out
/// as the first operand; partitioned by giving the results local shapes.
LogicalResult inferLayoutsLikeFirstOperand(Operation *op, ShardingState &state);
LogicalResult partitionInPlace(Operation *op, ShardingState &state);
} // namespace mlir::tetra

#include "tetra/TetraInterfaces.h.inc"

#define GET_OP_CLASSES
#include "tetra/TetraOps.h.inc"

namespace mlir::tetra {
/// Matrix FLOPs per token of one forward evaluation of the ops directly in
/// `region` (ops with nested regions account for them themselves).
double forwardFlopsPerToken(Region &region, int64_t seqLen);
} // namespace mlir::tetra

#endif // TETRA_TETRAOPS_H
