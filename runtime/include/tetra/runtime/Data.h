//===- Data.h - token files and the batches cut from them ----------------===//
#ifndef TETRA_RUNTIME_DATA_H
#define TETRA_RUNTIME_DATA_H

#include "tetra/runtime/Tensor.h"

#include <string>
#include <vector>

namespace tetra::rt {

struct TokenData {
  std::string path;
  std::vector<int64_t> tokens;
  /// 0: samples in file order; otherwise each epoch visits them in the order
  /// of a permutation seeded by (shuffle, epoch).
  uint64_t shuffle = 0;
};

/// Raw little-endian token ids, `dtype` u16 or u32.
TokenData readTokenFile(const std::string &path, const std::string &dtype);
/// UTF-8 text as bytes: token ids 0..255.
TokenData readTextFile(const std::string &path);

struct Batch {
  Tensor tokens;  // i32 [B, S]
  Tensor targets; // i32 [B, S]: the tokens shifted by one
};

/// Samples first .. first+B-1 of the sample stream. Sample j of the file is
/// tokens[j*S .. j*S+S], its targets tokens[j*S+1 .. j*S+S+1]; the stream
/// runs through the file's N = (tokens - 1) / S samples epoch after epoch
/// (stream index i is file sample i mod N, or its place in the epoch's
/// permutation when shuffling). Throws Error naming the file when it holds
/// no whole sample or a token is not below `vocab`.
Batch makeBatch(const TokenData &data, int64_t first, int64_t batch, int64_t seq,
                int64_t vocab);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_DATA_H
