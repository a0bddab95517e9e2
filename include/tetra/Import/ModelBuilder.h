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
  /// Positions a KV cache holds: non-zero builds `@decode` instead of
  /// `@forward` (static batch only; `seq` must be 1).
  int64_t cache = 0;
};

/// Emits a module with one `tetra.param` per checkpoint tensor (Hugging Face
/// names) and `func.func @forward(%ids: tensor<?x?xi32>) -> logits`; models
/// with a recurrent block take the iteration count as a second `i64`
/// argument. With a cache:
///   @decode(%ids: [B, 1], %position: i64, k/v caches [B, T, kv_heads, D]
///           per layer) -> (logits [B, 1, V], the caches with this position's
///           keys and values written in)
/// which attends over the cache up to `position`.
OwningOpRef<ModuleOp> buildModel(const ModelConfig &config, MLIRContext *context,
                                 Location loc, ModelShape shape = {});

} // namespace mlir::tetra

#endif // TETRA_IMPORT_MODELBUILDER_H
