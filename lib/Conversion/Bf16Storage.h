//===- Bf16Storage.h - a tensor stored as bf16, its readers widening it ----===//
//
// Shared by the mixed-precision passes: the bf16 activations between fused
// groups and the bf16 working copies of the weights.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_CONVERSION_BF16STORAGE_H
#define TETRA_CONVERSION_BF16STORAGE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::tetra {

/// Whether `op` is a tensor.expand_shape or collapse_shape.
bool isReshape(Operation *op);

/// Whether every reader of `v` can widen it once it is bf16 (what
/// widenReaders handles): a linalg.generic taking it as an input, a
/// tensor.extract of one element, a reshape whose readers can, a buffer of
/// it that only flash-attention kernels read, and, with `throughGathers`,
/// an all-gather (blocking, or started and waited for) whose result's
/// readers can.
bool onlyWideningReaders(Value v, bool throughGathers);

/// `t` (a ranked tensor) with bf16 elements.
RankedTensorType withBf16(Type t);

/// The generic's block argument `arg` made bf16, widened to fp32 first
/// thing in the body wherever the body reads it.
void widenArgument(OpBuilder &b, linalg::GenericOp op, BlockArgument arg);

/// `v`, whose type was just made bf16, read by linalg.generics (as inputs),
/// tensor.extracts, reshapes, all-gathers and bufferization.to_buffer: each
/// reshape's and gather's result becomes bf16, each generic widens its block
/// argument on entry, each extract what it reads.
void widenReaders(OpBuilder &b, Value v);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_BF16STORAGE_H
