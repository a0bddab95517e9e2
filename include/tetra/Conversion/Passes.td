//===- Passes.td - conversions out of tetra ---------------------*- tablegen -*-===//
#ifndef TETRA_CONVERSION_PASSES_TD
#define TETRA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTetraToLinalg : Pass<"convert-tetra-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower tetra's model ops to linalg, tensor, arith and math";
  let description = [{
    Each op becomes linalg.generic ops on tensors (static shapes): embeddings
    gather rows, norms reduce then scale, linear layers contract, attention
    computes masked scores, a stable softmax and the weighted sum of values,
    cross-entropy takes a per-row logsumexp. Ops without a CPU lowering yet
    (recurrent blocks, Abacus, Loki, goldfish, collectives, AdamW) are
    reported with their location.

    With `flash-attention`, attention (without Loki, head_dim a multiple of
    16 up to 128, at least as many keys as queries) becomes
    tetra.flash_attention on buffers instead, for the GPU lowering's fused
    kernel; other attention keeps this lowering.
  }];
  let options = [
    Option<"flashAttention", "flash-attention", "bool", /*default=*/"false",
           "Attention as tetra.flash_attention on buffers (GPU targets)">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::bufferization::BufferizationDialect", "::mlir::memref::MemRefDialect"
  ];
}

def FuseElementwise : Pass<"tetra-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "Fuse chains of elementwise linalg ops into one loop nest";
  let description = [{
    Upstream's elementwise fusion, limited to what pays on the CPU: a producer
    with one use, both ops fully parallel (norm scaling + residual add, bias
    + activation, the GLU), never into a contraction, which stays a BLAS call.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def UnshareFills : Pass<"tetra-unshare-fills", "::mlir::ModuleOp"> {
  let summary = "Give every use of a linalg.fill its own fill";
  let description = [{
    CSE makes the zero-filled destinations of many matrix products one
    tensor, which bufferization then copies into each product's buffer.
    Runs just before bufferization: a fill used more than once gets one
    copy per use, placed right before it, so each destination is filled in
    place (and on GPUs the fill folds into the product's kernel).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def AdjoinRowConsumers : Pass<"tetra-adjoin-row-consumers", "::mlir::ModuleOp"> {
  let summary = "Move a pointwise group that reads a row reduction's results right after it";
  let description = [{
    GPU machines, on tensors before bufferization. The GPU outlining fuses
    adjacent groups over the same rows into one block-per-row kernel (the
    reduction, a barrier, the pointwise pass over the row). The
    cross-entropy's gradient (softmax - one-hot, scaled by the kept
    tokens' count) reads the row statistics, but what it also needs, the
    goldfish mask and the count, is computed after them, and the loss's
    sum sits between. For each fully parallel linalg.generic that reads a
    row reduction's results directly, the ops its other operands come from
    (when none depends on the reduction and all are free of memory
    effects) move above the reduction, and the generic right after it; the
    ops left between follow it. Values and their order of use stay as
    they were, so the results are the same.
  }];
}

def UnshareResults : Pass<"tetra-unshare-results", "::mlir::ModuleOp"> {
  let summary = "Return each buffer once: a repeated result gets a copy of its own";
  let description = [{
    Runs after one-shot bufferization, before buffer-results-to-out-params
    with hoist-static-allocs, which makes each returned static allocation
    its out-parameter (the kernels write results in place, with no copy
    out) and needs each to be returned once. A memref a return names again
    is copied into a fresh allocation of the same shape, returned instead.
    Only entries whose results CSE merged (identical gradients) pay a copy.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def ConvertContractionsToBlas
    : Pass<"convert-contractions-to-blas", "::mlir::ModuleOp"> {
  let summary = "Call a tuned BLAS for the large matrix products";
  let description = [{
    Runs after bufferization. Every 2-D contraction linalg.generic on f32
    memrefs (loops i, j parallel, r reduced; C[i, j] += A[i, r] B[r, j] with
    either operand possibly transposed) becomes a call of
    `tetra_sgemm(transA, transB, A, B, C)`, which accumulates into C with
    cblas_sgemm (beta = 1, so C's initial value, zeros or a bias, is kept).
    The runtime provides `tetra_sgemm`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def ConvertLinalgToGPUKernels
    : Pass<"convert-linalg-to-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Outline every fused linalg group into one GPU kernel";
  let description = [{
    Runs after bufferization. Each linalg op that is not nested in another
    (a fused group: tetra-fuse-elementwise has already merged elementwise
    chains) becomes one `gpu.func` in `gpu.module @kernels` and is replaced
    by a `gpu.launch_func` of it:

    - a 2-D matrix product (the groups the CPU hands to BLAS) becomes a
      tensor-core kernel: operands rounded to bf16, products accumulated in
      fp32 and added to C's initial value (zeros, a bias, or a residual), so
      the bias and residual epilogues ride in the GEMM (or, with
      `gemm=vendor`, a call of the runtime's `tetra_gpu_sgemm`, cuBLAS with
      the same arithmetic, stays in the host code). `target=nvvm` issues
      `mma.sync.m16n8k16` (one warp per 16x8 tile), `target=rocdl` issues
      `v_mfma_f32_16x16x16bf16_1k` (one wave64 per 16x16 tile); on
      `chip=sm_90a` (unless `gemm-instruction=mma.sync`) a warpgroup (128
      threads) issues `wgmma.mma_async.m64n<64|128>k16` instead. A block
      computes a 64x64 or 128x128 tile of C (`gemm-tile`) in 32-wide
      slices of K, double-buffered in shared memory: the next slice's
      global reads are issued before the current slice's products;
    - any other group gets one thread per point of its parallel loops, which
      walks the reduction loops in order (norms, softmax and logsumexp rows)
      and evaluates the group's body.

    Copies between static buffers (memref.copy, from bufferization) become
    copy kernels too, so the data stays on the device. Values the group
    reads from above (scalars, other buffers) become kernel arguments;
    constants are rematerialised inside the kernel.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"nvvm\"",
           "Tensor-core flavour of the GEMM kernels: nvvm or rocdl">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block of the pointwise and reduction kernels">,
    Option<"gemm", "gemm", "std::string", /*default=*/"\"tensor-cores\"",
           "Matrix products as generated tensor-core kernels (tensor-cores) "
           "or as calls of tetra_gpu_sgemm, which the runtime serves with the "
           "vendor library (vendor: cuBLAS, bf16 tensor cores, fp32 sums)">,
    Option<"gemmTile", "gemm-tile", "std::string", /*default=*/"\"auto\"",
           "A tensor-core GEMM block's tile of C: 64 (64x64, four warps), "
           "128 (128x128, eight warps) or auto (128 where that still gives "
           "128 blocks)">,
    Option<"chip", "chip", "std::string", /*default=*/"\"\"",
           "The GPU the kernels are for (sm_90a, sm_80, gfx90a): which matrix "
           "instructions it has">,
    Option<"gemmInstruction", "gemm-instruction", "std::string", /*default=*/"\"auto\"",
           "NVIDIA GEMMs' matrix instructions: mma.sync (warp-wide, fragments "
           "from ldmatrix), wgmma (warpgroup-wide, operands read from shared "
           "memory by descriptor; sm_90a only) or auto (wgmma on sm_90a, "
           "else mma.sync)">
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::affine::AffineDialect", "::mlir::vector::VectorDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::nvgpu::NVGPUDialect", "::mlir::amdgpu::AMDGPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect"
  ];
}

def EmulateGPULaunches : Pass<"tetra-emulate-gpu-launches", "::mlir::ModuleOp"> {
  let summary = "Run outlined GPU kernels on the host (tests of the GPU lowering)";
  let description = [{
    Makes the outlined kernels host code, then drops `gpu.module @kernels`.

    - A kernel whose threads each run alone becomes loops over its blocks
      and threads (x only) around a copy of its body, with `gpu.block_id x`
      and `gpu.thread_id x` the loop counters.
    - A kernel whose threads cooperate (`gpu.barrier`, `gpu.shuffle xor`,
      the warp-wide `nvvm.mma.sync` m16n8k16 and `amdgpu.mfma` 16x16x16 on
      bf16) becomes
      a host function `<kernel>_emulated`. Thread and block ids, barriers
      and the matrix instructions become calls of the runtime's emulator
      (`tetra_emu_*`), which runs every thread of a block as a fiber and
      computes a warp's matrix instruction from its lanes' fragments. The
      launch becomes a call of `<kernel>_emulated_launch(grid, block,
      warp size, operands...)`, which `tetra-emulate-gpu-trampolines`
      defines once the host code is LLVM. Every load and store of such a
      kernel first reports its bytes (`tetra_emu_workgroup_access`,
      `tetra_emu_global_access`), and the emulator stops the run at a
      race: two threads touching a byte between the same barriers, or two
      blocks of one launch touching a global byte, one of them writing.
      An atomic read-modify-write (`memref.atomic_rmw`) races with plain
      accesses by other threads, not with other atomics.
    - With `check-every-kernel`, kernels whose threads run alone run as
      fibers too, so the race check covers them (two threads writing one
      output, a thread reading what another writes, a plain access beside
      another thread's atomic add); slower, for tests.

    `tetra_gpu_sgemm` (the vendor GEMM) becomes the CPU's `tetra_sgemm`.
    What this checks on a CPU is everything the GPU lowering decides: which
    values a kernel captures, how it indexes, how it walks its reductions,
    how it splits its iterations over threads, and how the tensor-core
    kernels lay out their fragments.
  }];
  let options = [
    Option<"warpSize", "warp-size", "int64_t", /*default=*/"32",
           "Lanes per warp: 32 for NVIDIA, 64 for AMD's wave64">,
    Option<"checkEveryKernel", "check-every-kernel", "bool", /*default=*/"false",
           "Run every kernel as fibers, so the race check covers kernels whose "
           "threads run alone too">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"];
}

def EmulateGPUTrampolines : Pass<"tetra-emulate-gpu-trampolines", "::mlir::ModuleOp"> {
  let summary = "Define the emulated launches once the host code is LLVM";
  let description = [{
    For every `<kernel>_emulated_launch` that `tetra-emulate-gpu-launches`
    declared, now an `llvm.func` whose memref operands are spread into
    their descriptors' fields: packs the operands into a struct and calls
    `tetra_emu_launch` with `<kernel>_emulated_entry`, which unpacks them
    and calls `<kernel>_emulated` once per emulated thread.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def Bf16Activations : Pass<"tetra-bf16-activations", "::mlir::ModuleOp"> {
  let summary = "Store the tensors between fused groups as bf16; compute and accumulate in fp32";
  let description = [{
    Runs after tetra-fuse-elementwise, before bufferization, so each tensor
    it touches is one that a kernel writes to memory and others read. A
    result of a pointwise linalg.generic (all loops parallel, its output's
    initial value unread) that only linalg.generics read as inputs, directly
    or through reshapes (or as buffers that only flash attention reads, as
    query, key, value or output gradient), is stored as bf16: the producer
    rounds what it yields (arith.truncf), each reader widens it back
    (arith.extf) inside its body. So is a matrix product the tensor-core
    kernels serve into a filled output: its body widens the output and
    rounds the sum, which the kernels keep in fp32 registers and round once.
    Everything else stays fp32: what a function returns (the parameters,
    the fp32 masters, their gradients, the optimizer's state, the loss),
    the outputs of reductions, and what other ops read (collectives, host
    reads).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect"];
}

def Bf16WeightCopies : Pass<"tetra-bf16-weight-copies", "::mlir::ModuleOp"> {
  let summary = "The forward and backward read bf16 copies of the weights, made by @round_params";
  let description = [{
    Runs with tetra-bf16-activations, on entries whose arguments still carry
    their roles (`tetra.role`, `tetra.name`). In an entry that does not
    write the masters (every one but the update), a parameter argument
    (role `param`, a static fp32 tensor) whose readers all widen it,
    directly or through reshapes and all-gathers, becomes a bf16 argument
    of role `param_bf16`: a linalg.generic reading it as an input (a matrix
    product, a norm, a pointwise loop) widens it in its body, a
    tensor.extract (the embedding's lookup) the element it reads. The GPU
    products rounded the fp32 weight to bf16 as they staged it, so their
    sums are the same; half the bytes move, and a gathered shard moves as
    bf16. A new entry, `@round_params`, takes those parameters' fp32
    masters (role `param`) and returns their copies, rounded to nearest
    even (role `param_bf16`). A parameter anything else reads stays fp32
    there.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def StreamGPULaunches : Pass<"tetra-stream-gpu-launches", "::mlir::ModuleOp"> {
  let summary = "Queue a block's GPU launches on one stream, waiting only where the host reads";
  let description = [{
    Runs on the host code after the kernels are outlined. Each block's
    `gpu.launch_func`s become async launches chained on one token, so they
    queue on one stream without the host waiting for each. The host waits
    for the stream (a blocking `gpu.wait`) only before an op that may touch
    memory itself, or holds regions, or ends the block: runtime calls
    (collectives, BLAS), `memref.load`/`store`/`copy`, loops, the return.
    Allocations and deallocations do not wait: the device backends reuse a
    thread's temporaries in the order of its stream. Views, constants and
    other side-effect-free ops do not wait either. Upstream's
    gpu-async-region waits before every allocation instead.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

#endif // TETRA_CONVERSION_PASSES_TD
