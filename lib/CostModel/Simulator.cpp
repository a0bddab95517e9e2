//===- Simulator.cpp - compute and communication streams ------------------===//
#include "tetra/CostModel/Simulator.h"

#include "llvm/ADT/DenseMap.h"

#include <algorithm>

namespace mlir::tetra::cost {

double kernelSeconds(const Work &work, const Machine &m) {
  double bandwidth = m.memoryBandwidth * m.memoryEfficiency;
  double bytes = m.storageBytes;
  double t = m.launchSeconds;
  // The efficiency by size already holds what small GEMMs lose to memory.
  for (const Gemm &g : work.gemms)
    t += g.flops() / (m.peakMatrix * m.gemmEfficiencyAt(2.0 * g.m * g.n * g.k));
  double elements = work.memoryElements + (m.attentionMaterialised ? work.scoreElements : 0);
  return t + elements * bytes / bandwidth;
}

double Simulator::startCollective(CollectiveKind kind, AxisMask axes, double bytes,
                                  const std::string &name) {
  double seconds = collectiveSeconds(machine_, grid_, kind, axes, bytes);
  double begin = std::max(compute_, comm_);
  comm_ = begin + seconds;
  if (seconds > 0) {
    busy_[axesName(axes)] += seconds;
    if (keepTimeline_)
      timeline_.push_back({axesName(axes), name, begin, comm_, {}});
  }
  return comm_;
}

void Simulator::waitUntil(double done, AxisMask axes) {
  if (done > compute_) {
    exposed_[axesName(axes)] += done - compute_;
    compute_ = done;
  }
}

void Simulator::play(const Schedule &schedule, const std::string &label) {
  llvm::DenseMap<int64_t, std::pair<double, AxisMask>> done;
  for (const Task &t : schedule.tasks) {
    switch (t.kind) {
    case Task::Compute: {
      double seconds = kernelSeconds(t.work, machine_);
      if (keepTimeline_)
        timeline_.push_back({"compute", label + ": " + t.name, compute_, compute_ + seconds, {}});
      compute_ += seconds;
      computeBusy_ += seconds;
      break;
    }
    case Task::Start: {
      std::string name = std::string(collectiveName(t.collective)) + " (" + t.name + ")";
      done[t.id] = {startCollective(t.collective, t.axes, t.elements * machine_.storageBytes,
                                    name),
                    t.axes};
      break;
    }
    case Task::Wait: {
      auto it = done.find(t.id);
      if (it != done.end())
        waitUntil(it->second.first, it->second.second);
      break;
    }
    }
  }
}

void Simulator::blockingCollective(CollectiveKind kind, AxisMask axes, double bytes,
                                   const std::string &name) {
  waitUntil(startCollective(kind, axes, bytes, name), axes);
}

void Simulator::hostWork(double bytes, const std::string &name) {
  double seconds = bytes / (machine_.memoryBandwidth * machine_.memoryEfficiency);
  if (keepTimeline_)
    timeline_.push_back({"compute", name, compute_, compute_ + seconds, {}});
  compute_ += seconds;
  computeBusy_ += seconds;
}

} // namespace mlir::tetra::cost
