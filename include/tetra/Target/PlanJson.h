//===- PlanJson.h - sched plans as the artifact's plan.json ----------------===//
#ifndef TETRA_TARGET_PLANJSON_H
#define TETRA_TARGET_PLANJSON_H

#include "sched/SchedOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include <string>

namespace mlir::tetra {

/// plan.json of a plan (format `tetra-plan`, its version, the ops in order).
std::string planToJson(sched::PlanOp plan);

/// Reads plan.json back into a module holding one sched.plan; errors name the
/// file and what is wrong.
OwningOpRef<ModuleOp> planFromJson(llvm::SourceMgr &sourceMgr, MLIRContext *context);

/// `--import-plan` (plan.json to sched IR) and `--export-plan` (the reverse).
void registerPlanTranslations();

} // namespace mlir::tetra

#endif // TETRA_TARGET_PLANJSON_H
