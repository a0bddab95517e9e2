//===- Network.cpp - placement of grid axes and collective costs ----------===//
#include "tetra/CostModel/Network.h"

#include <algorithm>
#include <cmath>

namespace mlir::tetra::cost {

std::string Grid::str() const {
  return std::to_string(sizes[0]) + "x" + std::to_string(sizes[1]) + "x" +
         std::to_string(sizes[2]) + "x" + std::to_string(sizes[3]);
}

std::string axesName(AxisMask axes) {
  static const char *names[] = {"x", "y", "z", "data"};
  std::string name;
  for (int a = 0; a < 4; ++a)
    if (axes & (1u << a))
      name += (name.empty() ? "" : "*") + std::string(names[a]);
  return name;
}

const char *collectiveName(CollectiveKind kind) {
  switch (kind) {
  case CollectiveKind::AllReduce:
    return "all-reduce";
  case CollectiveKind::AllGather:
    return "all-gather";
  case CollectiveKind::ReduceScatter:
    return "reduce-scatter";
  }
  return "?";
}

GroupPlacement placeGroup(const Machine &m, const Grid &grid, AxisMask axes) {
  GroupPlacement p;
  int64_t stride = 1, innermost = 0, extent = 1;
  for (int a = 0; a < 4; ++a) {
    if ((axes & (1u << a)) && grid.sizes[a] > 1) {
      if (p.size == 1)
        innermost = stride;
      p.size *= grid.sizes[a];
      extent = stride * grid.sizes[a]; // ranks up to the outermost member
    }
    stride *= grid.sizes[a];
  }
  if (p.size == 1)
    return p;
  p.span = innermost;
  p.insideNode = extent <= m.devicesPerNode;
  if (p.insideNode) {
    std::optional<double> bw = lookupBandwidth(m.intraNode, p.span, p.size);
    if (!bw) // no measurement for this shape: the slowest link inside a node
      for (const BandwidthRow &row : m.intraNode)
        bw = std::min(bw.value_or(row.bytesPerSecond), row.bytesPerSecond);
    p.bandwidth = bw.value_or(m.nicBytesPerSecondPerNode);
    p.latency = m.latencyIntra;
  } else {
    // A ring crosses a node boundary once per run of neighbours inside the
    // node; every group of this axis does so at once: min(span, devices per
    // node) flows share the node's NICs.
    int64_t flows = std::min(p.span, m.devicesPerNode);
    p.bandwidth = m.nicBytesPerSecondPerNode / static_cast<double>(flows);
    p.latency = m.latencyInter;
  }
  return p;
}

double collectiveSeconds(const Machine &m, const Grid &grid, CollectiveKind kind,
                         AxisMask axes, double bytes, const char **algorithm) {
  GroupPlacement p = placeGroup(m, grid, axes);
  if (algorithm)
    *algorithm = "ring";
  if (p.size <= 1 || bytes <= 0)
    return 0;
  double n = static_cast<double>(p.size);
  double part = (n - 1) / n * bytes / p.bandwidth;
  if (kind != CollectiveKind::AllReduce)
    return (n - 1) * p.latency + part;
  double ring = 2 * (n - 1) * p.latency + 2 * part;
  // Double binary tree: log2(n) steps down and up, the whole buffer each way.
  double tree = 2 * std::ceil(std::log2(n)) * p.latency + 2 * bytes / p.bandwidth;
  if (tree < ring) {
    if (algorithm)
      *algorithm = "tree";
    return tree;
  }
  return ring;
}

} // namespace mlir::tetra::cost
