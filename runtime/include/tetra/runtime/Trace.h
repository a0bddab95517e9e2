//===- Trace.h - what ran when: compute and communication timelines -------===//
//
// Events on named tracks (one for compute, one per communicator, named after
// its grid axes), written as a Chrome/Perfetto trace (JSON, ui.perfetto.dev)
// per rank. It also sums the time the compute thread waited for
// communication: the exposed (un-hidden) communication of a step.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_TRACE_H
#define TETRA_RUNTIME_TRACE_H

#include "llvm/Support/JSON.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace tetra::rt {

/// One span on a named track ("compute", or a group's axes: "x", "z*data").
struct TraceEvent {
  std::string track, name;
  double begin = 0, end = 0; // seconds
  /// Numbers attached to it (bytes, ranks, m/n/k): what tetra-calibrate fits
  /// the cost model's machine file to.
  std::vector<std::pair<std::string, double>> args;
};

/// `events` as Chrome/Perfetto trace JSON: process `label`, one thread per
/// track, compute first. The cost model's predicted traces use it too, so
/// predicted and measured timelines have the same lanes.
llvm::json::Value chromeTrace(const std::string &label, const std::vector<TraceEvent> &events);

class Trace {
public:
  using Clock = std::chrono::steady_clock;
  using Args = std::vector<std::pair<std::string, double>>;
  /// Seconds since the trace began.
  double now() const;
  /// Records an event when tracing is on (events are kept only then).
  void record(const std::string &track, const std::string &name, double begin, double end,
              Args args = {});
  /// Adds time the compute thread spent waiting for a collective.
  void addExposed(double seconds);
  /// Exposed communication since the last call, then resets it.
  double takeExposed();
  void enable() { enabled_ = true; }
  bool enabled() const { return enabled_; }
  /// Writes the events as Chrome trace JSON (process `label`); atomically.
  void write(const std::string &path, const std::string &label) const;

private:
  Clock::time_point origin_ = Clock::now();
  bool enabled_ = false;
  mutable std::mutex mutex_;
  std::vector<TraceEvent> events_;
  double exposed_ = 0;
};

/// The process's trace.
Trace &trace();

} // namespace tetra::rt

#endif // TETRA_RUNTIME_TRACE_H
