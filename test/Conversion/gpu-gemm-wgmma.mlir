// The warpgroup GEMM kernels (gemm-instruction=wgmma, sm_90a): the three
// products of gemm-emulated.mlir (A B, A Bᵀ after a zero fill, Aᵀ B) in
// 128x128 tiles (two warpgroups, wgmma m64n128k16) and 64x64 tiles (one,
// m64n64k16). Both operands are staged in shared memory as wgmma's core
// matrices (two stages of 2 x rows/8 x 256 bf16) and read by descriptor;
// the threads' stores are fenced for the async proxy before the barrier,
// and each round waits for its products before the barrier. ptxas
// assembles every kernel for sm_90a (format=bin runs it).
// RUN: for tile in 128 64; do \
// RUN:   tetra-opt %S/gemm-emulated.mlir --pass-pipeline="builtin.module(convert-linalg-to-gpu-kernels{target=nvvm chip=sm_90a gemm-instruction=wgmma gemm-tile=$tile},nvvm-attach-target{chip=sm_90a features=+ptx81 O=3},gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,convert-nvvm-to-llvm,reconcile-unrealized-casts),gpu-module-to-binary{format=isa toolkit=%cuda_path})" || exit 1; done | FileCheck %s
// RUN: tetra-opt %S/gemm-emulated.mlir --pass-pipeline="builtin.module(convert-linalg-to-gpu-kernels{target=nvvm chip=sm_90a gemm-instruction=wgmma},nvvm-attach-target{chip=sm_90a features=+ptx81 O=3},gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,convert-nvvm-to-llvm,reconcile-unrealized-casts),gpu-module-to-binary{format=bin toolkit=%cuda_path})" | FileCheck %s --check-prefix=BIN
// auto takes wgmma on sm_90a and mma.sync elsewhere; mma.sync can be asked
// for on sm_90a.
// RUN: tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="target=nvvm chip=sm_90a" | FileCheck %s --check-prefix=AUTO-HOPPER
// RUN: tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="target=nvvm chip=sm_80" | FileCheck %s --check-prefix=AUTO-AMPERE
// RUN: tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="target=nvvm chip=sm_90a gemm-instruction=mma.sync" | FileCheck %s --check-prefix=AUTO-AMPERE
// AUTO-HOPPER-COUNT-3: nvvm.wgmma.mma_async
// AUTO-HOPPER-NOT: nvvm.mma.sync
// AUTO-AMPERE-NOT: wgmma
// AUTO-AMPERE: nvvm.mma.sync
// AUTO-AMPERE-NOT: wgmma
// Bad combinations are refused, naming the option.
// RUN: not tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="target=nvvm chip=sm_80 gemm-instruction=wgmma" 2>&1 | FileCheck %s --check-prefix=SM80
// RUN: not tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="target=rocdl gemm-instruction=mma.sync" 2>&1 | FileCheck %s --check-prefix=AMD
// RUN: not tetra-opt %S/gemm-emulated.mlir --convert-linalg-to-gpu-kernels="gemm-instruction=hmma" 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK: .target sm_90a
// CHECK-SAME: .shared .align 128 .b8
// CHECK-SAME: [16384];
// CHECK-SAME: fence.proxy.async.shared::cta
// CHECK-SAME: bar.sync
// CHECK-SAME: wgmma.fence.sync.aligned
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-SAME: wgmma.commit_group.sync.aligned
// CHECK-SAME: wgmma.wait_group.sync.aligned \090;
// CHECK-NOT: mma.sync
// CHECK-NOT: ldmatrix
// CHECK: .target sm_90a
// CHECK-SAME: [8192];
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK-NOT: mma.sync
// CHECK-NOT: ldmatrix

// BIN: gpu.binary @kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx81">, properties = {ISAToBinaryTimeInMs
// SM80: gemm-instruction=wgmma needs target=nvvm chip=sm_90a, not target=nvvm chip='sm_80'
// AMD: gemm-instruction=mma.sync needs target=nvvm
// BAD: gemm-instruction must be auto, mma.sync or wgmma, not 'hmma'
