//===- SchedOps.cpp - the schedule dialect ---------------------------------===//
#include "sched/SchedOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include <cmath>

using namespace mlir;
using namespace mlir::sched;

#include "sched/SchedDialect.cpp.inc"

void SchedDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "sched/SchedOps.cpp.inc"
      >();
}

LogicalResult PlanOp::verify() {
  if (getVersionAttr().getInt() != kPlanVersion)
    return emitOpError("plan version ")
           << getVersionAttr().getInt() << " is not supported (this build reads version "
           << kPlanVersion << ")";
  return success();
}

LogicalResult RepeatOp::verify() {
  if (getCountAttr().getInt() < 1)
    return emitOpError("count must be at least 1, got ") << getCountAttr().getInt();
  return success();
}

LogicalResult LaunchOp::verify() {
  if (std::optional<DictionaryAttr> bind = getBind())
    for (NamedAttribute entry : *bind)
      if (!llvm::isa<StringAttr>(entry.getValue()))
        return emitOpError("bind must map roles to buffer set names (strings); '")
               << entry.getName().getValue() << "' maps to " << entry.getValue();
  return success();
}

LogicalResult ScaleOp::verify() {
  if (!std::isfinite(getFactor().convertToDouble()))
    return emitOpError("factor must be finite");
  return success();
}

#define GET_OP_CLASSES
#include "sched/SchedOps.cpp.inc"
