//===- TensorCoreGemm.h - GEMM kernels on NVIDIA and AMD matrix cores -----===//
#ifndef TETRA_LIB_CONVERSION_TENSORCOREGEMM_H
#define TETRA_LIB_CONVERSION_TENSORCOREGEMM_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::tetra {

/// Blocks and threads per block of a one-dimensional launch.
struct LaunchShape {
  int64_t blocks = 1, threads = 1;
};

/// A matrix product C[M, N] += op(A) op(B) with op(A) M x K and op(B) K x N;
/// a transposed operand is stored the other way round.
struct GemmShape {
  int64_t m, n, k;
  bool transA, transB;
  bool overwrite = false; // C = op(A) op(B): C was zero-filled just before
};

/// A block's tile of C: 64 x 64 (four warps), 128 x 128 (eight), or the
/// larger where it still gives 128 blocks.
enum class GemmTile { Auto, Small, Large };

/// Which matrix instructions an NVIDIA GEMM issues: warp-wide mma.sync
/// (sm_80 on) or warpgroup-wide wgmma.mma_async reading both operands from
/// shared memory (sm_90a only). AMD has one kind (MFMA).
enum class GemmInstruction { Warp, Warpgroup };

/// Emits, at `b`'s insertion point inside `kernel`, the tensor-core GEMM for
/// `target` ("nvvm": mma.sync m16n8k16 bf16; "rocdl": MFMA 16x16x16 bf16):
/// a tile of C a block (`tile`), slices of A and B staged in shared memory
/// (two stages of each, workgroup attributions of `kernel`). Operands
/// are rounded to bf16, products summed in fp32 and added to C (stored
/// into C with `overwrite`). Returns the launch it needs.
/// `epilogue`, when given, runs at every element of C once it is stored,
/// with the element's row and column (a fused pointwise consumer). With
/// GemmInstruction::Warpgroup (nvvm only) a block of one or two
/// warpgroups issues wgmma.mma_async instead.
using GemmEpilogue = function_ref<void(OpBuilder &, Location, Value row, Value col)>;
LaunchShape buildTensorCoreGemm(OpBuilder &b, gpu::GPUFuncOp kernel, Location loc,
                                StringRef target, Value a, Value bMatrix, Value c,
                                const GemmShape &shape, GemmTile tile,
                                GemmEpilogue epilogue = {},
                                GemmInstruction instruction = GemmInstruction::Warp);

} // namespace mlir::tetra

#endif // TETRA_LIB_CONVERSION_TENSORCOREGEMM_H
