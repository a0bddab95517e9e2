//===- Plan.h - the artifact's plan.json, read for execution ---------------===//
#ifndef TETRA_RUNTIME_PLAN_H
#define TETRA_RUNTIME_PLAN_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tetra::rt {

/// The plan format this runtime reads.
inline constexpr int64_t kPlanVersion = 1;

/// One plan op (docs/artifact.md): only the fields of its kind are set.
struct PlanStep {
  std::string op; // zero, repeat, load_batch, launch, accumulate, scale, clip_norm
  int64_t count = 0;
  std::vector<PlanStep> body;
  std::string entry;
  std::map<std::string, std::string> bind;
  std::string buffers, like, from, into;
  double factor = 1.0;
};

struct Plan {
  std::string name;
  std::vector<PlanStep> steps;
};

/// Reads `path`; throws Error naming the file on a malformed plan or a
/// version this runtime does not read.
Plan readPlan(const std::string &path);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_PLAN_H
