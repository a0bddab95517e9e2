//===- tetra-opt.cpp - the opt-style driver of tetra -----------------------===//
#include "tetra/CostModel/Passes.h"
#include "tetra/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::tetra::registerDialects(registry);
  mlir::tetra::registerPasses();
  mlir::tetra::registerTetraCostModelPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tetra optimizer driver\n", registry));
}
