//===- TetraDialect.cpp - the tetra dialect -------------------------------===//
#include "tetra/TetraDialect.h"
#include "tetra/TetraOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tetra;

#include "tetra/TetraDialect.cpp.inc"
#include "tetra/TetraEnums.cpp.inc"
#include "tetra/TetraInterfaces.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "tetra/TetraTypes.cpp.inc"

void TetraDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "tetra/TetraOps.cpp.inc"
      >();
}

void TetraDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "tetra/TetraTypes.cpp.inc"
      >();
}

GridAttr mlir::tetra::lookupGrid(Operation *op) {
  for (Operation *cur = op; cur; cur = cur->getParentOp())
    if (auto grid = cur->getAttrOfType<GridAttr>(kGridAttrName))
      return grid;
  return {};
}
