//===- ModelBuilder.h - tetra IR for a ModelConfig -------------------------===//
#ifndef TETRA_IMPORT_MODELBUILDER_H
#define TETRA_IMPORT_MODELBUILDER_H

#include "tetra/Import/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::tetra {

/// Batch and sequence sizes of the forward function; dynamic by default.
struct ModelShape {
  int64_t batch = ShapedType::kDynamic;
  int64_t seq = ShapedType::kDynamic;
};

/// Emits a module with one `tetra.param` per checkpoint tensor (Hugging Face
/// names) and `func.func @forward(%ids: tensor<?x?xi32>) -> logits`; models
/// with a recurrent block take the iteration count as a second `i64`
/// argument.
OwningOpRef<ModuleOp> buildModel(const ModelConfig &config, MLIRContext *context,
                                 Location loc, ModelShape shape = {});

} // namespace mlir::tetra

#endif // TETRA_IMPORT_MODELBUILDER_H
