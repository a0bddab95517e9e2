// One kernel per fused group, launched where the group was.
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels | FileCheck %s
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=target=rocdl | FileCheck %s --check-prefix=AMD
// RUN: tetra-opt %s -split-input-file -verify-diagnostics --convert-linalg-to-gpu-kernels

// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @layer
// CHECK-NOT: linalg.
// The GEMM, named after its shape and, since the activation runs in it as
// its epilogue, its place: 40x20 fits one 64x64 block tile, four warps.
// CHECK: gpu.launch_func @kernels::@gemm_40x20x24_nt_layer_0 blocks in (%c1{{.*}}, %c1{{.*}}, %c1{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%arg0 : memref<40x24xf32>, %arg1 : memref<20x24xf32>, %arg2 : memref<40x20xf32>)
// CHECK: gpu.launch_func @kernels::@layer_1_pointwise {{.*}} args(%arg3 : memref<40xf32>)
// CHECK: gpu.launch_func @kernels::@layer_2_reduction {{.*}} args(%arg2 : memref<40x20xf32>, %arg3 : memref<40xf32>)
// CHECK-NOT: linalg.
// CHECK: gpu.module @kernels
// The slices of A and B, bf16 in shared memory; four warps of 2 x 4 tiles
// of 16x8, two k steps of 16 a slice: 16 mma.sync between the barriers.
// CHECK: gpu.func @gemm_40x20x24_nt_layer_0({{.*}}) workgroup(%{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: scf.for {{.*}} -> (f32, f32
// CHECK: scf.for
// CHECK: memref.store {{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: memref.store {{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK-COUNT-16: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: gpu.barrier
// The epilogue after each stored element of C.
// CHECK: memref.store
// CHECK: math.tanh
// CHECK: gpu.func @layer_1_pointwise
// CHECK: gpu.func @layer_2_reduction
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args

// Four waves of 2 x 2 tiles of 16x16: 8 MFMAs a slice.
// AMD: gpu.func @gemm_40x20x24_nt_layer_0({{.*}}) workgroup({{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// AMD: gpu.barrier
// AMD-COUNT-8: amdgpu.mfma 16x16x16 {{.*}} : vector<4xbf16>, vector<4xbf16>, vector<4xf32>
// AMD-NOT: nvvm.

func.func @on_tensors(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{is on tensors; outline GPU kernels after bufferization}}
  %y = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      outs(%x : tensor<4xf32>) {
  ^bb0(%v: f32):
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @dynamic(%x: memref<?xf32>) {
  // expected-error @+1 {{has dynamic loop bounds; GPU kernels need static shapes}}
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      outs(%x : memref<?xf32>) {
  ^bb0(%v: f32):
    linalg.yield %v : f32
  }
  return
}
