//===- SchedOps.h - the schedule dialect -----------------------------------===//
#ifndef SCHED_SCHEDOPS_H
#define SCHED_SCHEDOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"

#include "sched/SchedDialect.h.inc"

#define GET_OP_CLASSES
#include "sched/SchedOps.h.inc"

namespace mlir::sched {
/// The plan format this build writes and reads.
inline constexpr int64_t kPlanVersion = 1;
} // namespace mlir::sched

#endif // SCHED_SCHEDOPS_H
