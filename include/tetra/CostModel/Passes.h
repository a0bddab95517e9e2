//===- Passes.h - the cost-model pass -------------------------------------===//
#ifndef TETRA_COSTMODEL_PASSES_H
#define TETRA_COSTMODEL_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::tetra {
#define GEN_PASS_DECL
#include "tetra/CostModel/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tetra/CostModel/Passes.h.inc"
} // namespace mlir::tetra

#endif // TETRA_COSTMODEL_PASSES_H
