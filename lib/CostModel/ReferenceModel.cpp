//===- ReferenceModel.cpp - AxoNN's communication model (ALGORITHMS.md §1) ===//
#include "tetra/CostModel/ReferenceModel.h"

#include <algorithm>

namespace mlir::tetra::cost {

std::vector<Grid> powerOfTwoGrids(int64_t gpus) {
  std::vector<Grid> grids;
  for (int64_t x = 1; x <= gpus; x *= 2)
    for (int64_t y = 1; x * y <= gpus; y *= 2)
      for (int64_t z = 1; x * y * z <= gpus; z *= 2)
        if (gpus % (x * y * z) == 0) {
          int64_t d = gpus / (x * y * z);
          if ((d & (d - 1)) == 0)
            grids.push_back(Grid{{x, y, z, d}});
        }
  return grids;
}

std::vector<Grid> allGrids(int64_t devices) {
  std::vector<Grid> grids;
  for (int64_t x = 1; x <= devices; ++x)
    if (devices % x == 0)
      for (int64_t y = 1; y <= devices / x; ++y)
        if ((devices / x) % y == 0)
          for (int64_t z = 1; z <= devices / (x * y); ++z)
            if ((devices / (x * y)) % z == 0)
              grids.push_back(Grid{{x, y, z, devices / (x * y * z)}});
  return grids;
}

llvm::Expected<ReferenceCost> referenceCost(const Machine &m, const ReferenceShape &s,
                                            const Grid &g) {
  if (!m.reference)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "machine '" + m.name +
                                       "' has no reference_bus_gbps table (the reference "
                                       "model needs AxoNN's measured bandwidths)");
  ReferenceCost cost;
  cost.grid = g;
  double gx = g.x(), gy = g.y(), gz = g.z(), gd = g.data();
  double h = s.hidden, rows = static_cast<double>(s.batch) / gd / gz * s.seqLen;
  struct Layer {
    double k;
    bool transposed;
  };
  const Layer block[] = {{3, false}, {1, true}, {4, false}, {4, true}};
  for (const Layer &l : block) {
    cost.bytes[3] += 4 * (gd - 1) / gd * l.k * h * h / (gx * gy * gz) * 2;
    cost.bytes[2] += 3 * (gz - 1) / gz * l.k * h * h / (gx * gy) * 2;
    if (!l.transposed) {
      // dX all-reduce over y; forward all-reduce over x, twice (recomputation).
      cost.bytes[1] += 2 * (gy - 1) / gy * (rows * h / gx) * 2;
      cost.bytes[0] += 2 * 2 * (gx - 1) / gx * (rows * l.k * h / gy) * 2;
    } else {
      // x and y swap roles: the K*H input is split over y, the output over x.
      cost.bytes[0] += 2 * (gx - 1) / gx * (rows * l.k * h / gy) * 2;
      cost.bytes[1] += 2 * 2 * (gy - 1) / gy * (rows * h / gx) * 2;
    }
  }
  int64_t span = 1;
  for (int a = 0; a < 4; ++a) {
    cost.bytes[a] *= s.layers;
    int64_t group = g.sizes[a];
    if (group > 1) {
      std::optional<double> bw = lookupBandwidth(*m.reference, span, group);
      if (!bw)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "machine '" + m.name + "': no reference bandwidth for a group of " +
                std::to_string(group) + " at span " + std::to_string(span));
      cost.seconds[a] = cost.bytes[a] / *bw;
      cost.total += cost.seconds[a];
    }
    span *= group;
  }
  return cost;
}

llvm::Expected<std::vector<ReferenceCost>>
referenceSearch(const Machine &m, const ReferenceShape &s, int64_t gpus,
                int64_t minTensorParallel) {
  std::vector<ReferenceCost> ranked;
  for (const Grid &g : powerOfTwoGrids(gpus)) {
    if (g.x() * g.y() * g.z() < minTensorParallel || s.batch % (g.data() * g.z()) != 0)
      continue;
    llvm::Expected<ReferenceCost> c = referenceCost(m, s, g);
    if (!c)
      return c.takeError();
    ranked.push_back(*c);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const ReferenceCost &a, const ReferenceCost &b) { return a.total < b.total; });
  return ranked;
}

} // namespace mlir::tetra::cost
