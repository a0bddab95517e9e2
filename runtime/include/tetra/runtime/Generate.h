//===- Generate.h - continuing token sequences with a trained model -------===//
#ifndef TETRA_RUNTIME_GENERATE_H
#define TETRA_RUNTIME_GENERATE_H

#include "tetra/runtime/Trainer.h"

#include <cstdint>
#include <vector>

namespace tetra::rt {

struct Sampling {
  /// 0: greedy (the most likely token; the lowest id on a tie).
  double temperature = 0;
  /// With a temperature: sample among the k most likely tokens (0: all).
  int64_t topK = 0;
  uint64_t seed = 0;
};

/// Continues each prompt by `maxNew` tokens with the artifact's `decode`
/// entry (one token per row and step, against KV caches) and the trainer's
/// parameters, micro-batch rows at a time. Each prompt plus its continuation
/// must fit the compiled sequence length.
std::vector<std::vector<int64_t>> generate(const Artifact &artifact, Trainer &trainer,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           int64_t maxNew, const Sampling &sampling);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_GENERATE_H
