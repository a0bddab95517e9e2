//===- Registration.cpp - dialects and passes the tools register ----------===//
#include "tetra/Registration.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/TetraDialect.h"
#include "sched/SchedOps.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::tetra::registerDialects(DialectRegistry &registry) {
  registry.insert<TetraDialect, sched::SchedDialect>();
  // The pipeline runs through most upstream dialects (linalg, bufferization,
  // scf, vector, gpu, nvvm, rocdl, llvm, ...) and their interface models
  // (bufferization, conversion to LLVM).
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // LLVM IR of host code and of GPU kernels (NVVM, ROCDL), which
  // gpu-module-to-binary serialises.
  registerAllToLLVMIRTranslations(registry);
  registerGradientModels(registry);
  registerShardingModels(registry);
  registerCollectiveBufferization(registry);
}

void mlir::tetra::registerPasses() {
  static bool registered = [] {
    registerTetraPasses();
    registerTetraConversionPasses();
    registerAllPasses();
    return true;
  }();
  (void)registered;
}
