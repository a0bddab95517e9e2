//===- Schedule.cpp - the learning rate at each step -----------------------===//
#include "tetra/runtime/Schedule.h"

#include <algorithm>
#include <cmath>

namespace tetra::rt {

double Schedule::at(int64_t step) const {
  if (warmup > 0 && step <= warmup)
    return peak * static_cast<double>(step) / static_cast<double>(warmup);
  if (!cosine || total <= warmup)
    return peak;
  double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  progress = std::clamp(progress, 0.0, 1.0);
  double low = peak * minRatio;
  return low + 0.5 * (peak - low) * (1.0 + std::cos(M_PI * progress));
}

} // namespace tetra::rt
