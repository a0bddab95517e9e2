//===- Generate.cpp - continuing token sequences with a trained model -----===//
//
// With the artifact's `decode` entry, each step feeds one token per row at
// position t; the entry writes that position's keys and values into the KV
// caches (in place) and attends over positions 0..t. Prompts are fed token by
// token, then each row's next token is picked from the logits.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Generate.h"
#include "tetra/runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <map>
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
/// Checks the prompts and puts them in rows of token ids.
std::vector<std::vector<int64_t>> checkedPrompts(const std::vector<std::vector<int64_t>> &prompts,
                                                 int64_t maxNew, int64_t seq, int64_t vocab) {
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int64_t> &p = prompts[i];
    if (p.empty())
      throw Error("prompt " + std::to_string(i) + " is empty");
    if (static_cast<int64_t>(p.size()) + maxNew > seq)
      throw Error("prompt " + std::to_string(i) + " of " + std::to_string(p.size()) +
                  " tokens plus " + std::to_string(maxNew) +
                  " new ones exceeds the compiled sequence length " + std::to_string(seq));
    for (int64_t t : p)
      if (t < 0 || t >= vocab)
        throw Error("prompt " + std::to_string(i) + ": token " + std::to_string(t) +
                    " is not below the vocabulary size " + std::to_string(vocab));
  }
  return prompts;
}

/// Generation through `decode` and its KV caches.
std::vector<std::vector<int64_t>> decodeWithCache(const Artifact &artifact, Trainer &trainer,
                                                  std::vector<std::vector<int64_t>> rowsIn,
                                                  int64_t maxNew, const Sampling &sampling,
                                                  std::mt19937_64 &rng) {
  const Manifest &m = artifact.manifest();
  const EntrySpec &entry = artifact.entry("decode");
  int64_t rows = m.microBatch, vocab = m.vocab;
  std::map<std::pair<std::string, std::string>, Tensor> caches;
  for (const ArgSpec &a : entry.args)
    if (a.role == "k_cache" || a.role == "v_cache")
      caches.emplace(std::make_pair(a.role, a.name), Tensor(a.dtype, a.shape));
  Tensor tokens(DType::I32, {rows, 1}), position(DType::I64, {});
  auto cacheOf = [&](const ArgSpec &a) -> Tensor * {
    auto it = caches.find({a.role, a.name});
    return it == caches.end() ? nullptr : &it->second;
  };
  std::vector<std::vector<int64_t>> out;
  for (size_t first = 0; first < rowsIn.size(); first += rows) {
    size_t count = std::min<size_t>(rows, rowsIn.size() - first);
    std::vector<std::vector<int64_t>> seqs(rowsIn.begin() + first,
                                           rowsIn.begin() + first + count);
    std::vector<size_t> promptLength;
    for (auto &s : seqs)
      promptLength.push_back(s.size());
    size_t longest = *std::max_element(promptLength.begin(), promptLength.end());
    for (int64_t t = 0; t + 1 < static_cast<int64_t>(longest) + maxNew; ++t) {
      for (size_t r = 0; r < count; ++r)
        tokens.as<int32_t>()[r] = static_cast<int32_t>(seqs[r][t]);
      position.as<int64_t>()[0] = t;
      std::vector<Tensor> results = artifact.call(
          "decode",
          [&](const ArgSpec &a) -> Tensor * {
            if (a.role == "tokens")
              return &tokens;
            if (a.role == "position")
              return &position;
            if (a.role == "param")
              return &trainer.parameters().at(a.name);
            return cacheOf(a);
          },
          cacheOf);
      const float *logits = results[0].as<float>();
      for (size_t r = 0; r < count; ++r)
        if (static_cast<size_t>(t) + 1 >= promptLength[r] &&
            static_cast<int64_t>(seqs[r].size() - promptLength[r]) < maxNew)
          seqs[r].push_back(pick(logits + r * vocab, vocab, sampling, rng));
    }
    for (size_t r = 0; r < count; ++r)
      out.emplace_back(seqs[r].begin() + promptLength[r], seqs[r].end());
  }
  return out;
}
} // namespace

std::vector<std::vector<int64_t>> generate(const Artifact &artifact, Trainer &trainer,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           int64_t maxNew, const Sampling &sampling) {
  const Manifest &m = artifact.manifest();
  if (m.grid.ranks() > 1)
    throw Error("generation runs on one process; compile the model without --grid");
  if (!artifact.hasEntry("decode"))
    throw Error("the artifact has no decode entry (recurrent models cannot generate yet)");
  std::mt19937_64 rng(sampling.seed);
  return decodeWithCache(artifact, trainer, checkedPrompts(prompts, maxNew, m.seqLen, m.vocab),
                         maxNew, sampling, rng);
}

} // namespace tetra::rt
