//===- Schedule.h - the learning rate at each step -------------------------===//
#ifndef TETRA_RUNTIME_SCHEDULE_H
#define TETRA_RUNTIME_SCHEDULE_H

#include <cstdint>
#include <string>

namespace tetra::rt {

/// Linear warm-up to `peak` over `warmup` steps, then constant or a cosine
/// decay to `peak * minRatio` at step `total`. Steps count from 1.
struct Schedule {
  double peak = 1e-3;
  int64_t warmup = 0;
  int64_t total = 1;
  double minRatio = 0.1;
  bool cosine = true;

  double at(int64_t step) const;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_SCHEDULE_H
