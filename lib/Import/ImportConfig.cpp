//===- ImportConfig.cpp - the --import-config translation -----------------===//
#include "tetra/Import/ImportConfig.h"
#include "tetra/Import/ModelBuilder.h"
#include "tetra/Import/ModelConfig.h"
#include "tetra/Registration.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;

// Static shapes for the passes that need them (tetra-shard, the lowering).
static llvm::cl::opt<int64_t> importBatch(
    "import-batch", llvm::cl::desc("--import-config: static batch size (default dynamic)"),
    llvm::cl::init(ShapedType::kDynamic));
static llvm::cl::opt<int64_t> importSeqLen(
    "import-seq-len",
    llvm::cl::desc("--import-config: static sequence length (default dynamic)"),
    llvm::cl::init(ShapedType::kDynamic));

OwningOpRef<ModuleOp> tetra::importConfig(llvm::SourceMgr &sourceMgr,
                                          MLIRContext *context) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  StringRef file = buffer->getBufferIdentifier();
  ConfigError error;
  std::optional<ModelConfig> config = parseModelConfig(buffer->getBuffer(), error);
  if (!config) {
    emitError(FileLineColLoc::get(context, file, error.line, error.column))
        << error.message;
    return {};
  }
  Location loc = FileLineColLoc::get(context, file, 1, 1);
  for (const std::string &warning : config->warnings)
    emitWarning(loc) << warning;
  return buildModel(*config, context, loc, ModelShape{importBatch, importSeqLen});
}

void tetra::registerImportConfigTranslation() {
  TranslateToMLIRRegistration registration(
      "import-config", "import a Hugging Face config.json as tetra IR",
      [](llvm::SourceMgr &sourceMgr, MLIRContext *context) {
        return importConfig(sourceMgr, context);
      },
      [](DialectRegistry &registry) { registerDialects(registry); });
}
