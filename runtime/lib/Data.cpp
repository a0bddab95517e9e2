//===- Data.cpp - token files and the batches cut from them --------------===//
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>
#include <numeric>
#include <random>

namespace tetra::rt {

namespace {
llvm::StringRef readAll(const std::string &path,
                        std::unique_ptr<llvm::MemoryBuffer> &holder) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  if (!buffer)
    throw Error(path + ": cannot read data (" + buffer.getError().message() + ")");
  holder = std::move(*buffer);
  return holder->getBuffer();
}
} // namespace

TokenData readTokenFile(const std::string &path, const std::string &dtype) {
  size_t width = dtype == "u16" ? 2 : dtype == "u32" ? 4 : 0;
  if (!width)
    throw Error("--data-dtype must be u16 or u32, got '" + dtype + "'");
  std::unique_ptr<llvm::MemoryBuffer> holder;
  llvm::StringRef bytes = readAll(path, holder);
  if (bytes.size() % width)
    throw Error(path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                dtype + " tokens");
  TokenData data{path, {}};
  data.tokens.resize(bytes.size() / width);
  for (size_t i = 0; i < data.tokens.size(); ++i) {
    if (width == 2) {
      uint16_t t;
      std::memcpy(&t, bytes.data() + 2 * i, 2);
      data.tokens[i] = t;
    } else {
      uint32_t t;
      std::memcpy(&t, bytes.data() + 4 * i, 4);
      data.tokens[i] = t;
    }
  }
  return data;
}

TokenData readTextFile(const std::string &path) {
  std::unique_ptr<llvm::MemoryBuffer> holder;
  llvm::StringRef bytes = readAll(path, holder);
  TokenData data{path, {}};
  for (unsigned char c : bytes)
    data.tokens.push_back(c);
  return data;
}

namespace {
/// The file sample at stream index `i`.
int64_t fileSample(const TokenData &data, int64_t i, int64_t samples) {
  int64_t epoch = i / samples, within = i % samples;
  if (!data.shuffle)
    return within;
  // A Fisher-Yates permutation of the epoch, seeded by (seed, epoch).
  std::vector<int64_t> order(samples);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(data.shuffle * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(epoch));
  for (int64_t k = samples - 1; k > 0; --k)
    std::swap(order[k], order[std::uniform_int_distribution<int64_t>(0, k)(rng)]);
  return order[within];
}
} // namespace

Batch makeBatch(const TokenData &data, int64_t first, int64_t batch, int64_t seq,
                int64_t vocab) {
  int64_t size = static_cast<int64_t>(data.tokens.size());
  int64_t samples = size > 0 ? (size - 1) / seq : 0;
  if (samples < 1)
    throw Error(data.path + ": " + std::to_string(size) + " tokens; one sample of length " +
                std::to_string(seq) + " needs " + std::to_string(seq + 1));
  Batch b{Tensor(DType::I32, {batch, seq}), Tensor(DType::I32, {batch, seq})};
  int32_t *tokens = b.tokens.as<int32_t>(), *targets = b.targets.as<int32_t>();
  for (int64_t i = 0; i < batch; ++i) {
    int64_t start = fileSample(data, first + i, samples) * seq;
    for (int64_t s = 0; s <= seq; ++s) {
      int64_t at = start + s;
      int64_t token = data.tokens[at];
      if (token >= vocab)
        throw Error(data.path + ": token " + std::to_string(token) + " at index " +
                    std::to_string(at) + " is not below the vocabulary size " +
                    std::to_string(vocab));
      if (s < seq)
        tokens[i * seq + s] = static_cast<int32_t>(token);
      if (s > 0)
        targets[i * seq + s - 1] = static_cast<int32_t>(token);
    }
  }
  return b;
}

} // namespace tetra::rt
