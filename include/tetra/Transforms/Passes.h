//===- Passes.h - tetra passes --------------------------------------------===//
#ifndef TETRA_TRANSFORMS_PASSES_H
#define TETRA_TRANSFORMS_PASSES_H

#include "tetra/TetraOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include <memory>

namespace mlir::tetra {
#define GEN_PASS_DECL
#include "tetra/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tetra/Transforms/Passes.h.inc"

/// The grid axes a parameter's gradient is summed over after the backward
/// pass: data, and z unless the parameter is split over z (as integers of
/// GridAxis).
SmallVector<int32_t> gradientReduceAxes(ParamOp param, GridAttr grid);
} // namespace mlir::tetra

#endif // TETRA_TRANSFORMS_PASSES_H
