//===- Generate.cpp - continuing token sequences with a trained model -----===//
//
// Causal attention makes the logits at position t depend on tokens 0..t only,
// so a batch of prompts is placed at the start of the compiled [B, S] window
// and each step reads the logits after the last token; positions past it
// hold zeros and change nothing before them.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Generate.h"
#include "tetra/runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace tetra::rt {

namespace {
int64_t pick(const float *logits, int64_t vocab, const Sampling &sampling,
             std::mt19937_64 &rng) {
  if (sampling.temperature <= 0)
    return std::max_element(logits, logits + vocab) - logits;
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = sampling.topK > 0 ? std::min(sampling.topK, vocab) : vocab;
  std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                    [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  std::vector<double> weights(keep);
  double top = logits[order[0]];
  for (int64_t i = 0; i < keep; ++i)
    weights[i] = std::exp((logits[order[i]] - top) / sampling.temperature);
  std::discrete_distribution<int64_t> choose(weights.begin(), weights.end());
  return order[choose(rng)];
}
} // namespace

std::vector<std::vector<int64_t>> generate(const Artifact &artifact, Trainer &trainer,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           int64_t maxNew, const Sampling &sampling) {
  const Manifest &m = artifact.manifest();
  if (m.grid.ranks() > 1)
    throw Error("generation runs on one process; compile the model without --grid");
  if (!artifact.hasEntry("forward"))
    throw Error("the artifact has no forward entry");
  int64_t rows = m.microBatch, seq = m.seqLen, vocab = m.vocab;
  std::mt19937_64 rng(sampling.seed);
  std::vector<std::vector<int64_t>> out;
  for (size_t first = 0; first < prompts.size(); first += rows) {
    size_t count = std::min<size_t>(rows, prompts.size() - first);
    Batch batch{Tensor(DType::I32, {rows, seq}), Tensor(DType::I32, {rows, seq})};
    int32_t *tokens = batch.tokens.as<int32_t>();
    std::vector<int64_t> length(count);
    for (size_t r = 0; r < count; ++r) {
      const std::vector<int64_t> &p = prompts[first + r];
      if (p.empty())
        throw Error("prompt " + std::to_string(first + r) + " is empty");
      if (static_cast<int64_t>(p.size()) + maxNew > seq)
        throw Error("prompt " + std::to_string(first + r) + " of " +
                    std::to_string(p.size()) + " tokens plus " + std::to_string(maxNew) +
                    " new ones exceeds the compiled sequence length " + std::to_string(seq));
      for (size_t t = 0; t < p.size(); ++t) {
        if (p[t] < 0 || p[t] >= vocab)
          throw Error("prompt " + std::to_string(first + r) + ": token " +
                      std::to_string(p[t]) + " is not below the vocabulary size " +
                      std::to_string(vocab));
        tokens[r * seq + t] = static_cast<int32_t>(p[t]);
      }
      length[r] = static_cast<int64_t>(p.size());
    }
    std::vector<std::vector<int64_t>> continuation(count);
    for (int64_t step = 0; step < maxNew; ++step) {
      std::vector<Tensor> logits = artifact.call("forward", trainer.batchBinder(batch));
      const float *l = logits[0].as<float>();
      for (size_t r = 0; r < count; ++r) {
        int64_t at = length[r] - 1;
        int64_t next = pick(l + (r * seq + at) * vocab, vocab, sampling, rng);
        tokens[r * seq + length[r]++] = static_cast<int32_t>(next);
        continuation[r].push_back(next);
      }
    }
    for (auto &c : continuation)
      out.push_back(std::move(c));
  }
  return out;
}

} // namespace tetra::rt
