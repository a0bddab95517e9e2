//===- Passes.h - tetra passes --------------------------------------------===//
#ifndef TETRA_TRANSFORMS_PASSES_H
#define TETRA_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include <memory>

namespace mlir::tetra {
#define GEN_PASS_DECL
#include "tetra/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tetra/Transforms/Passes.h.inc"
} // namespace mlir::tetra

#endif // TETRA_TRANSFORMS_PASSES_H
