// The outlined kernels lowered and serialised: PTX for sm_90a with the
// tensor-core mma.sync, AMDGCN for gfx90a with MFMA. One entry per group.
// The GEMM stages bf16 slices in shared memory (LDS), two stages of
// 2 x 64 x 40 bf16 for each of A and B, behind barriers, reading the fp32
// operands 16 bytes at a time and storing each run's four bf16 at once.
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --pass-pipeline='builtin.module(convert-linalg-to-gpu-kernels{target=nvvm},nvvm-attach-target{chip=sm_90a features=+ptx81 O=3},gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,reconcile-unrealized-casts),gpu-module-to-binary{format=isa toolkit=%cuda_path})' | FileCheck %s --check-prefix=PTX
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --pass-pipeline='builtin.module(convert-linalg-to-gpu-kernels{target=rocdl},rocdl-attach-target{chip=gfx90a O=3},convert-math-to-rocdl{chipset=gfx90a},gpu.module(lower-affine,convert-scf-to-cf,convert-amdgpu-to-rocdl{chipset=gfx90a},convert-gpu-to-rocdl{chipset=gfx90a},reconcile-unrealized-casts),gpu-module-to-binary{format=isa toolkit=%rocm_path})' | FileCheck %s --check-prefix=GCN

// PTX: gpu.binary @kernels
// PTX-SAME: .target sm_90a
// PTX-SAME: .entry gemm_40x20x24_nt_layer_0(
// PTX-SAME: ld.global.v4.b32
// PTX-SAME: cvt.rn.bf16x2.f32
// PTX-SAME: st.shared.v2.b32
// PTX-SAME: bar.sync
// PTX-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-SAME: .entry layer_1_pointwise(
// PTX-SAME: .entry layer_2_reduction(
// PTX-NOT: .entry

// GCN: gpu.binary @kernels
// GCN-SAME: .amdgcn_target \22amdgcn-amd-amdhsa--gfx90a
// GCN-SAME: gemm_40x20x24_nt_layer_0:
// GCN-SAME: global_load_dwordx4
// GCN-SAME: ds_write2st64_b64
// GCN-SAME: s_barrier
// GCN-SAME: v_mfma_f32_16x16x16bf16_1k
// GCN-SAME: .amdhsa_kernel gemm_40x20x24_nt_layer_0
// GCN-SAME: .amdhsa_group_segment_fixed_size 20480
// GCN-SAME: .amdhsa_kernel layer_1_pointwise
// GCN-SAME: .amdhsa_kernel layer_2_reduction
