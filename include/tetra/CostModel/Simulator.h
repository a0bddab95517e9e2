//===- Simulator.h - one training step on the compute and comm streams ----===//
//
// Plays schedules the way the runtime executes them: kernels back to back on
// the compute stream; collectives on one communication thread per rank, in
// start order, each beginning when it is started and the previous one is
// done; a wait blocks the compute stream until its collective ends. The time
// a wait blocks is exposed communication, counted per group of axes.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_SIMULATOR_H
#define TETRA_COSTMODEL_SIMULATOR_H

#include "tetra/CostModel/Schedule.h"
#include "tetra/runtime/Trace.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::tetra::cost {

/// Seconds of one kernel: each GEMM at the matrix peak times the machine's
/// efficiency for its size (which holds what small GEMMs lose to memory
/// traffic), the rest at
/// the memory bandwidth, plus the launch.
double kernelSeconds(const Work &work, const Machine &m);

/// A predicted span, on the runtime's tracks ("compute", a group's axes).
using TimelineEvent = ::tetra::rt::TraceEvent;

class Simulator {
public:
  Simulator(const Machine &m, const Grid &grid, bool keepTimeline)
      : machine_(m), grid_(grid), keepTimeline_(keepTimeline) {}

  /// Plays `schedule` after what was played before; `label` names its
  /// kernels in the timeline.
  void play(const Schedule &schedule, const std::string &label);
  /// A blocking collective between kernels (the plan's gradient all-reduce).
  void blockingCollective(CollectiveKind kind, AxisMask axes, double bytes,
                          const std::string &name);
  /// A memory-bound step of the runtime between kernels (accumulation).
  void hostWork(double bytes, const std::string &name);

  double now() const { return compute_; }
  double computeBusy() const { return computeBusy_; }
  const std::map<std::string, double> &exposed() const { return exposed_; }
  const std::map<std::string, double> &communication() const { return busy_; }
  const std::vector<TimelineEvent> &timeline() const { return timeline_; }

private:
  double startCollective(CollectiveKind kind, AxisMask axes, double bytes,
                         const std::string &name);
  void waitUntil(double done, AxisMask axes);

  const Machine &machine_;
  Grid grid_;
  bool keepTimeline_;
  double compute_ = 0, comm_ = 0, computeBusy_ = 0;
  std::map<std::string, double> exposed_, busy_;
  std::vector<TimelineEvent> timeline_;
};

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_SIMULATOR_H
