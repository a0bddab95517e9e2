//===- ScatterAddKernel.h - loop nests that only add into memory ---------===//
#ifndef TETRA_LIB_CONVERSION_SCATTERADDKERNEL_H
#define TETRA_LIB_CONVERSION_SCATTERADDKERNEL_H

#include "TensorCoreGemm.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::tetra {

/// A nest of scf.for loops with static bounds (each level holding at most
/// one inner loop, as its last op) whose only writes add into memory:
/// `store(addf(load(X[i]), v), X[i])`, X read nowhere else in the nest.
/// Its iterations commute, so each can be a GPU thread, the adds atomic:
/// the embedding gradient's rows added at the tokens' rows of the table.
struct ScatterAddNest {
  SmallVector<scf::ForOp> loops;   // outermost first
  SmallVector<int64_t> tripCounts; // of each loop
  llvm::DenseMap<Operation *, Value> addends; // each store: the v it adds
  llvm::DenseSet<Operation *> absorbed;       // each store's load and add
};

/// The nest `outer` heads, when it is one.
std::optional<ScatterAddNest> matchScatterAdd(scf::ForOp outer);

/// The launch shape of a grid-stride loop over `points` points.
LaunchShape gridStrideShape(int64_t points, int64_t blockSize);

/// Emits, at `b`'s insertion point inside a kernel, one thread per
/// iteration of the nest (grid-stride, the outer loop slowest), with
/// `memref.atomic_rmw addf` for the adds. `map` holds the kernel's values
/// for what the nest captures.
LaunchShape buildScatterAdd(OpBuilder &b, const ScatterAddNest &nest, IRMapping &map,
                            int64_t blockSize);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_SCATTERADDKERNEL_H
