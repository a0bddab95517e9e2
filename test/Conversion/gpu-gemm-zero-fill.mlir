// A zero fill right before the matrix product of its buffer folds into the
// product's kernel: gemm_<shape>_b0 stores C = AB without reading C, and the
// fill launches no kernel of its own. A fill with other work between keeps
// its kernel (here one with the other fill), and its product adds to C.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

// CHECK-LABEL: func.func @zero_then_product
// CHECK-NOT: gpu.launch_func @kernels::@zero_then_product_{{.*}}pointwise
// CHECK: gpu.launch_func @kernels::@gemm_64x64x32_nn_b0
// CHECK-NEXT: return
func.func @zero_then_product(%a: memref<64x32xf32>, %b: memref<32x64xf32>, %c: memref<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x64xf32>)
  linalg.matmul ins(%a, %b : memref<64x32xf32>, memref<32x64xf32>) outs(%c : memref<64x64xf32>)
  return
}

// CHECK-LABEL: func.func @zero_then_other_work
// CHECK: gpu.launch_func @kernels::@zero_then_other_work_0_pointwise_fused
// CHECK: gpu.launch_func @kernels::@gemm_64x64x32_nn blocks
func.func @zero_then_other_work(%a: memref<64x32xf32>, %b: memref<32x64xf32>, %c: memref<64x64xf32>, %d: memref<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x64xf32>)
  linalg.fill ins(%one : f32) outs(%d : memref<64x64xf32>)
  linalg.matmul ins(%a, %b : memref<64x32xf32>, memref<32x64xf32>) outs(%c : memref<64x64xf32>)
  return
}

// The overwriting kernel stores its accumulators without loading C first;
// the accumulating one loads, adds and stores.
// CHECK: gpu.func @gemm_64x64x32_nn_b0(%{{.*}}: memref<64x32xf32>, %{{.*}}: memref<32x64xf32>, %[[C:.*]]: memref<64x64xf32>)
// CHECK-NOT: memref.load %[[C]]
// CHECK: memref.store %{{.*}}, %[[C]]
// CHECK-NOT: memref.load %[[C]]
// CHECK: gpu.return
// CHECK: gpu.func @gemm_64x64x32_nn(%{{.*}}: memref<64x32xf32>, %{{.*}}: memref<32x64xf32>, %[[C2:.*]]: memref<64x64xf32>)
// CHECK: memref.load %[[C2]]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[C2]]
