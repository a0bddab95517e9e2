//===- FlashAttentionKernel.h - attention as one tensor-core kernel -------===//
#ifndef TETRA_LIB_CONVERSION_FLASHATTENTIONKERNEL_H
#define TETRA_LIB_CONVERSION_FLASHATTENTIONKERNEL_H

#include "TensorCoreGemm.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <optional>

namespace mlir::tetra {

/// What a flash-attention kernel is specialised on.
struct AttentionShape {
  int64_t batch, queries, heads, keys, kvHeads, headDim;
  bool causal;
  std::optional<int64_t> window;
  double scale;
  bool queryPosition; // the first query's position is an operand
};

/// Emits, at `b`'s insertion point inside `kernel`, attention on NVIDIA
/// tensor cores in one pass over the keys (FlashAttention-2's forward): a
/// block of four warps takes 64 queries of one head, each warp 16; key and
/// value tiles of 64 are staged in shared memory as bf16; a warp computes
/// its 16x64 scores with mma.sync m16n8k16, keeps a running maximum and sum
/// per row (an online softmax, rows combined across a quad by shuffles),
/// and multiplies the probabilities, still in registers, by the value tile.
/// The scores never reach memory. `queryPosition` is an i64 or null.
LaunchShape buildFlashAttention(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc, Value query,
                                Value key, Value value, Value result, Value queryPosition,
                                const AttentionShape &shape);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_FLASHATTENTIONKERNEL_H
