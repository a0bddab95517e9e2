//===- Data.cpp - token files and the batches cut from them --------------===//
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

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

Batch makeBatch(const TokenData &data, int64_t first, int64_t batch, int64_t seq,
                int64_t vocab) {
  int64_t needed = (first + batch) * seq + 1;
  if (static_cast<int64_t>(data.tokens.size()) < needed)
    throw Error(data.path + ": " + std::to_string(data.tokens.size()) +
                " tokens; samples " + std::to_string(first) + ".." +
                std::to_string(first + batch - 1) + " of length " + std::to_string(seq) +
                " need " + std::to_string(needed));
  Batch b{Tensor(DType::I32, {batch, seq}), Tensor(DType::I32, {batch, seq})};
  int32_t *tokens = b.tokens.as<int32_t>(), *targets = b.targets.as<int32_t>();
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t s = 0; s <= seq; ++s) {
      int64_t at = (first + i) * seq + s;
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
  return b;
}

} // namespace tetra::rt
