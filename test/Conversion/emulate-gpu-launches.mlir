// Outlined kernels as host loops, the CPU's check of the outlining.
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=gemm=vendor --tetra-emulate-gpu-launches | FileCheck %s
// RUN: not tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels --tetra-emulate-gpu-launches 2>&1 | FileCheck %s --check-prefix=COOPERATE

// CHECK-NOT: gpu.
// CHECK: func.func private @tetra_sgemm
// CHECK-LABEL: func.func @layer
// CHECK: call @tetra_sgemm
// The pointwise epilogue: blocks, threads, then the grid-stride loop.
// CHECK: scf.for %[[BLOCK:arg[0-9]+]] = %c0 to %{{.*}} step %{{.*}} {
// CHECK: scf.for %[[THREAD:arg[0-9]+]] = %c0 to %{{.*}} step %{{.*}} {
// CHECK: %[[FIRST:.*]] = arith.muli %[[BLOCK]], %{{.*}}
// CHECK: arith.addi %[[FIRST]], %[[THREAD]]
// CHECK: math.tanh
// CHECK-NOT: gpu.

// COOPERATE: error: 'gpu.launch_func' op launches layer_0_gemm, whose threads cooperate; emulate kernels outlined with gemm=vendor
