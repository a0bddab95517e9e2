//===- Registration.h - dialects and passes the tools register ------------===//
#ifndef TETRA_REGISTRATION_H
#define TETRA_REGISTRATION_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::tetra {
/// The tetra dialect and the upstream dialects the pipeline uses.
void registerDialects(DialectRegistry &registry);
/// Gradient rules of the upstream ops the importer emits (tensor reshapes and
/// slices, constants).
void registerGradientModels(DialectRegistry &registry);
/// Sharding rules of the upstream tensor ops the importer emits.
void registerShardingModels(DialectRegistry &registry);
/// Bufferization of the tetra collectives into calls to the runtime.
void registerCollectiveBufferization(DialectRegistry &registry);
/// Every tetra pass, and the upstream passes a pipeline strings together.
void registerPasses();
} // namespace mlir::tetra

#endif // TETRA_REGISTRATION_H
