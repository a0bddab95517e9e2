//===- Search.cpp - every 4D configuration, ranked ------------------------===//
#include "tetra/CostModel/CostModel.h"
#include "tetra/CostModel/ReferenceModel.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace mlir::tetra::cost {

namespace {

/// Why a grid cannot run, before anything is built (empty: it may).
std::pair<Rejection, std::string> quickReject(const ModelInfo &model, const Machine &m, const SearchOptions &o,
                        const Grid &g) {
  int64_t rowsSplit = g.data() * g.z();
  int64_t microBatch = o.microBatch ? o.microBatch : o.globalBatch;
  if (o.globalBatch % rowsSplit != 0 || microBatch % rowsSplit != 0)
    return {Rejection::DoesNotDivide,
            llvm::formatv("the micro-batch of {0} samples does not divide over data*z = {1}",
                          microBatch, rowsSplit)
                .str()};
  // Weights, gradient sum and two moments: 16 bytes per parameter in fp32,
  // 18 in bf16 with fp32 masters; at best split over x*y*z.
  double perParam = m.storageBytes == 2 ? 18 : 16;
  double need = model.parameters * perParam / static_cast<double>(g.x() * g.y() * g.z());
  if (need > m.memoryBytes)
    return {Rejection::DoesNotFit,
            llvm::formatv("parameters, gradients and optimizer state alone need {0:f1} GiB "
                          "per device, the device has {1:f1} GiB",
                          need / (1u << 30), m.memoryBytes / (1u << 30))
                .str()};
  return {Rejection::None, ""};
}

bool hasCollectives(const Grid &g) { return g.devices() > 1; }

} // namespace

std::vector<Prediction> search(const ModelFactory &factory, const ModelInfo &model,
                               const Machine &m, const SearchOptions &o) {
  std::vector<Grid> grids = o.grid ? std::vector<Grid>{*o.grid} : allGrids(o.devices);
  std::vector<Prediction> all;
  auto add = [&](Prediction p) { all.push_back(std::move(p)); };
  for (const Grid &g : grids) {
    auto [kind, why] = quickReject(model, m, o, g);
    if (kind != Rejection::None) {
      Prediction p;
      p.config.grid = g;
      p.rejection = kind;
      p.rejected = why;
      add(std::move(p));
      continue;
    }
    std::vector<std::string> overlaps =
        hasCollectives(g) ? o.overlaps : std::vector<std::string>{"none"};
    auto predictions = predictGrid(factory, model, m, o, g, overlaps, false, false);
    // A split that does not divide fails alike for every overlap setting.
    if (llvm::all_of(predictions, [&](const auto &pr) {
          return pr.first.rejection == Rejection::CannotBuild &&
                 pr.first.rejected == predictions.front().first.rejected;
        }))
      predictions.resize(1);
    for (auto &[p, r] : predictions) {
      bool memoryOnly = p.rejection == Rejection::DoesNotFit;
      add(std::move(p));
      if (memoryOnly && o.recompute)
        add(std::move(r));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Prediction &a, const Prediction &b) {
    if (a.rejected.empty() != b.rejected.empty())
      return a.rejected.empty();
    return a.rejected.empty() && a.stepSeconds < b.stepSeconds;
  });
  return all;
}

} // namespace mlir::tetra::cost
