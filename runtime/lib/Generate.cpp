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

/// Generation through `decode` and its KV caches. On a grid each rank runs
/// its rows of every micro-batch (samples over data*z) with its heads and its
/// slice of the vocabulary (gathered over y to pick a token); the
/// continuations are then gathered over data and z, so every rank returns
/// all of them.
std::vector<std::vector<int64_t>> decodeWithCache(const Artifact &artifact, Trainer &trainer,
                                                  std::vector<std::vector<int64_t>> prompts,
                                                  int64_t maxNew, const Sampling &sampling) {
  const Manifest &m = artifact.manifest();
  const EntrySpec &entry = artifact.entry("decode");
  Collectives *comm = trainer.collectives();
  int64_t rows = m.microBatch, vocab = m.vocab;
  int64_t localRows = entry.args[0].shape[0];
  int64_t shard = 0, shards = rows / localRows, ySize = m.grid.size(Axis::Y);
  if (comm && shards > 1) {
    GridCoord c = comm->coord();
    shard = c.of(Axis::Data) * m.grid.size(Axis::Z) + c.of(Axis::Z);
  }
  // Whole micro-batches: the last prompt fills the remaining rows.
  size_t wanted = prompts.size();
  while (prompts.size() % rows)
    prompts.push_back(prompts.back());
  int64_t rounds = static_cast<int64_t>(prompts.size()) / rows;

  std::map<std::pair<std::string, std::string>, Tensor> caches;
  for (const ArgSpec &a : entry.args)
    if (a.role == "k_cache" || a.role == "v_cache")
      caches.emplace(std::make_pair(a.role, a.name), Tensor(a.dtype, a.shape));
  Tensor tokens(DType::I32, {localRows, 1}), position(DType::I64, {});
  auto cacheOf = [&](const ArgSpec &a) -> Tensor * {
    auto it = caches.find({a.role, a.name});
    return it == caches.end() ? nullptr : &it->second;
  };
  // This rank's continuations, round by round, row by row: maxNew each.
  std::vector<float> mine;
  for (int64_t round = 0; round < rounds; ++round) {
    int64_t first = round * rows + shard * localRows;
    std::vector<std::vector<int64_t>> seqs(prompts.begin() + first,
                                           prompts.begin() + first + localRows);
    std::vector<size_t> promptLength;
    for (auto &s : seqs)
      promptLength.push_back(s.size());
    // One generator per prompt, seeded by its index: the same samples
    // whichever rank (and grid) continues it.
    std::vector<std::mt19937_64> rngs;
    for (int64_t r = 0; r < localRows; ++r) {
      std::seed_seq seed{sampling.seed, static_cast<uint64_t>(first + r)};
      rngs.emplace_back(seed);
    }
    size_t longest = *std::max_element(promptLength.begin(), promptLength.end());
    for (int64_t t = 0; t + 1 < static_cast<int64_t>(longest) + maxNew; ++t) {
      for (int64_t r = 0; r < localRows; ++r)
        tokens.as<int32_t>()[r] = static_cast<int32_t>(seqs[r][t]);
      position.as<int64_t>()[0] = t;
      std::vector<Tensor> results = artifact.call(
          "decode",
          [&](const ArgSpec &a) -> Tensor * {
            if (a.role == "tokens")
              return &tokens;
            if (a.role == "position")
              return &position;
            if (Tensor *param = trainer.parameterArgument(a))
              return param;
            return cacheOf(a);
          },
          cacheOf);
      // [localRows, 1, V / y]: with the vocabulary split, gather its slices.
      const Tensor &local = results[0];
      int64_t columns = local.shape().back();
      std::vector<float> full(local.as<float>(), local.as<float>() + local.numElements());
      if (comm && ySize > 1) {
        std::vector<float> gathered(full.size() * ySize);
        comm->allGather(full.data(), static_cast<int64_t>(full.size()), gathered.data(),
                        {Axis::Y});
        full.assign(localRows * columns * ySize, 0.0f);
        for (int64_t g = 0; g < ySize; ++g)
          for (int64_t r = 0; r < localRows; ++r)
            std::copy_n(gathered.data() + (g * localRows + r) * columns, columns,
                        full.data() + r * columns * ySize + g * columns);
        columns *= ySize;
      }
      for (int64_t r = 0; r < localRows; ++r)
        if (static_cast<size_t>(t) + 1 >= promptLength[r] &&
            static_cast<int64_t>(seqs[r].size() - promptLength[r]) < maxNew)
          seqs[r].push_back(pick(full.data() + r * columns, vocab, sampling, rngs[r]));
    }
    for (int64_t r = 0; r < localRows; ++r)
      for (size_t k = promptLength[r]; k < seqs[r].size(); ++k)
        mine.push_back(static_cast<float>(seqs[r][k])); // ids < 2^24: exact
  }
  // Every rank's rows (group order over z, data: the shard index order).
  std::vector<float> all = mine;
  if (comm && shards > 1) {
    all.resize(mine.size() * shards);
    comm->allGather(mine.data(), static_cast<int64_t>(mine.size()), all.data(),
                    {Axis::Z, Axis::Data});
  }
  std::vector<std::vector<int64_t>> out(prompts.size());
  for (int64_t s = 0; s < shards; ++s)
    for (int64_t round = 0; round < rounds; ++round)
      for (int64_t r = 0; r < localRows; ++r) {
        const float *ids = all.data() + s * mine.size() + (round * localRows + r) * maxNew;
        out[round * rows + s * localRows + r].assign(ids, ids + maxNew);
      }
  out.resize(wanted);
  return out;
}
} // namespace

std::vector<std::vector<int64_t>> generate(const Artifact &artifact, Trainer &trainer,
                                           const std::vector<std::vector<int64_t>> &prompts,
                                           int64_t maxNew, const Sampling &sampling) {
  const Manifest &m = artifact.manifest();
  if (!artifact.hasEntry("decode"))
    throw Error("the artifact has no decode entry (recurrent models cannot generate yet)");
  return decodeWithCache(artifact, trainer, checkedPrompts(prompts, maxNew, m.seqLen, m.vocab),
                         maxNew, sampling);
}

} // namespace tetra::rt
