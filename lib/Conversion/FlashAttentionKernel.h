//===- FlashAttentionKernel.h - attention as tensor-core kernels ----------===//
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
/// null; `logsumexp` ([B, S, Hq], or null) receives each row's log-sum-exp.
LaunchShape buildFlashAttention(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                StringRef target, Value query, Value key, Value value,
                                Value result, Value logsumexp, Value queryPosition,
                                const AttentionShape &shape);

/// The buffers of FlashAttention-2's backward: the forward's operands, the
/// output gradient, the forward's log-sum-exp and delta = rowsum(grad *
/// output), both [B, S, Hq].
struct AttentionGradOperands {
  Value query, key, value, grad, logsumexp, delta;
};

/// The query gradient: a block takes 64 queries of one head like the
/// forward, recomputes each key tile's probabilities from the log-sum-exp,
/// and accumulates dS K with dS = P (grad V^T - delta) scale.
LaunchShape buildFlashAttentionQueryGrad(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                         StringRef target, const AttentionGradOperands &in,
                                         Value queryGrad, const AttentionShape &shape);

/// The key and value gradients: a block takes 64 keys of one key/value
/// head, walks the query tiles of every query head that shares it, and
/// accumulates P^T grad and dS^T Q, so no two blocks write the same rows.
LaunchShape buildFlashAttentionKeyValueGrad(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                            StringRef target, const AttentionGradOperands &in,
                                            Value keyGrad, Value valueGrad,
                                            const AttentionShape &shape);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_FLASHATTENTIONKERNEL_H
