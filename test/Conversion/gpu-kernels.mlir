// One kernel per fused group, launched where the group was.
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels | FileCheck %s
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=target=rocdl | FileCheck %s --check-prefix=AMD
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=gemm-tile=128 | FileCheck %s --check-prefix=LARGE
// RUN: not tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=gemm-tile=96 2>&1 | FileCheck %s --check-prefix=TILE
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
// The slices of A and B, bf16 in shared memory, two stages each; four
// warps of 2 x 4 tiles of 16x8, two k steps of 16 a slice: 16 mma.sync a
// slice. Each 16-deep step loads A's fragments of a 16x16 tile with one
// ldmatrix.x4, and B's of two 8-column tiles with one more.
// Both 16-byte aligned, as ldmatrix's row addresses must be.
// CHECK: gpu.func @gemm_40x20x24_nt_layer_0({{.*}}) workgroup(%[[SA:.*]] : memref<2x64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<2x64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// The first slice into stage 0: 16 elements of A and 16 of B a thread, in
// runs of four fp32 along K (one 16-byte load each, K being a multiple of
// four), rounded to bf16 and stored along a shared row at once.
// CHECK-COUNT-4: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<40x24xf32>, vector<4xf32>
// CHECK-COUNT-4: vector.store {{.*}}, %[[SA]][%c0{{.*}}] {alignment = 8 : i64} : memref<2x64x40xbf16, #gpu.address_space<workgroup>>, vector<4xbf16>
// CHECK-COUNT-4: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<20x24xf32>, vector<4xf32>
// CHECK-COUNT-4: vector.store {{.*}}, %[[SB]][%c0
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} -> (f32, f32
// The next slice is read from global memory before this one's products...
// CHECK: vector.load %arg0
// CHECK-COUNT-4: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<2x64x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-NOT: nvgpu.ldmatrix
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK-COUNT-4: nvgpu.ldmatrix
// CHECK-NOT: nvgpu.ldmatrix
// CHECK-COUNT-8: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-NOT: nvvm.mma.sync
// ...and stored into the other stage after them; one barrier a slice.
// CHECK: vector.store {{.*}}, %[[SA]]
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// The epilogue after each stored element of C.
// CHECK: memref.store
// CHECK: math.tanh
// CHECK: gpu.func @layer_1_pointwise
// CHECK: gpu.func @layer_2_reduction
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args

// Four waves of 2 x 2 tiles of 16x16: 8 MFMAs a slice, each operand one
// 64-bit load of four bf16.
// AMD: gpu.func @gemm_40x20x24_nt_layer_0({{.*}}) workgroup({{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// AMD: gpu.barrier
// AMD: vector.load {{.*}} : memref<2x64x40xbf16, #gpu.address_space<workgroup>>, vector<4xbf16>
// AMD-COUNT-8: amdgpu.mfma 16x16x16 {{.*}} : vector<4xbf16>, vector<4xbf16>, vector<4xf32>
// AMD-NOT: amdgpu.mfma
// AMD: gpu.barrier
// AMD-NOT: nvvm.

// 128x128 tiles: eight warps of 64x32, 4 x 4 tiles of 16x8 each, 32
// mma.sync a slice; each thread stages 16 elements of A and 16 of B, four
// runs of four of each.
// LARGE: gpu.func @gemm_40x20x24_nt_layer_0({{.*}}) workgroup(%[[SA:.*]] : memref<2x128x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[SB:.*]] : memref<2x128x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// LARGE-COUNT-4: vector.store {{.*}}, %[[SA]][%c0
// LARGE-NOT: {{memref|vector}}.store {{.*}}, %[[SA]]
// LARGE: scf.for
// LARGE-COUNT-32: nvvm.mma.sync
// LARGE-NOT: nvvm.mma.sync
// LARGE: gpu.barrier
// TILE: error: convert-linalg-to-gpu-kernels: gemm-tile must be auto, 64 or 128, not '96'


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
