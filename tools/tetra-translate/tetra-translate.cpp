//===- tetra-translate.cpp - imports into and exports out of tetra IR -----===//
#include "tetra/Import/ImportConfig.h"
#include "tetra/Target/PlanJson.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::tetra::registerImportConfigTranslation();
  mlir::tetra::registerPlanTranslations();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "Tetra translation tool"))
             ? 1
             : 0;
}
