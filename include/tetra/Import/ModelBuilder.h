//===- ModelBuilder.h - tetra IR for a ModelConfig -------------------------===//
#ifndef TETRA_IMPORT_MODELBUILDER_H
#define TETRA_IMPORT_MODELBUILDER_H

#include "tetra/Import/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::tetra {

/// Emits a module with one `tetra.param` per checkpoint tensor (Hugging Face
/// names) and `func.func @forward(%ids: tensor<?x?xi32>) -> logits`; models
/// with a recurrent block take the iteration count as a second `i64`
/// argument.
OwningOpRef<ModuleOp> buildModel(const ModelConfig &config, MLIRContext *context,
                                 Location loc);

} // namespace mlir::tetra

#endif // TETRA_IMPORT_MODELBUILDER_H
