//===- ImportConfig.h - the --import-config translation -------------------===//
#ifndef TETRA_IMPORT_IMPORTCONFIG_H
#define TETRA_IMPORT_IMPORTCONFIG_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

namespace mlir::tetra {
/// Imports the config.json held by `sourceMgr`'s main buffer; reports errors
/// as diagnostics located in that file.
OwningOpRef<ModuleOp> importConfig(llvm::SourceMgr &sourceMgr, MLIRContext *context);
/// Registers `--import-config` with mlir-translate's registry.
void registerImportConfigTranslation();
} // namespace mlir::tetra

#endif // TETRA_IMPORT_IMPORTCONFIG_H
