//===- Report.h - the search's results for people and for programs --------===//
#ifndef TETRA_COSTMODEL_REPORT_H
#define TETRA_COSTMODEL_REPORT_H

#include "tetra/CostModel/CostModel.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::tetra::cost {

struct ReportContext {
  const Machine *machine = nullptr;
  std::string modelName;
  ModelInfo model;
  SearchOptions options;
  double searchSeconds = 0;
};

/// One sentence on why the first feasible prediction beats the others.
std::string explainWinner(const std::vector<Prediction> &ranked);

/// The top `top` configurations with their breakdown, the rejected ones
/// counted by reason, and the explanation.
void printReport(llvm::raw_ostream &os, const ReportContext &ctx,
                 const std::vector<Prediction> &ranked, size_t top);

llvm::json::Value reportJson(const ReportContext &ctx, const std::vector<Prediction> &ranked);

llvm::json::Object predictionJson(const Prediction &p);

/// Writes `value` (indented) to `path` through a temporary file and a rename.
llvm::Error writeJsonFile(llvm::StringRef path, const llvm::json::Value &value);

/// A predicted timeline as a Chrome/Perfetto trace, with the runtime's lanes
/// (compute, then one per group of axes).
llvm::json::Value timelineTrace(const Prediction &p, const std::string &label);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_REPORT_H
