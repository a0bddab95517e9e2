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

/// Emits, at `b`'s insertion point inside `kernel`, attention in one pass
/// over the keys (FlashAttention-2's forward) on the matrix cores of
/// `target`: a block of four warps (waves) takes 64 queries of one head,
/// each 16 of them; key and value tiles of 64 are staged in shared memory
/// as bf16; a warp computes its 16x64 scores with mma.sync m16n8k16 (nvvm)
/// or v_mfma 16x16x16 (rocdl), keeps a running maximum and sum per row (an
/// online softmax, rows combined across lanes by xor shuffles), and
/// multiplies the probabilities by the value tile: in registers on NVIDIA,
/// whose accumulator and operand layouts coincide, through shared memory on
/// AMD. The scores never reach global memory. `queryPosition` is an i64 or
/// null.
LaunchShape buildFlashAttention(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                StringRef target, Value query, Value key, Value value,
                                Value result, Value queryPosition, const AttentionShape &shape);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_FLASHATTENTIONKERNEL_H
