// A pointwise group right after a matrix product that reads the product at
// its own element runs in the product's kernel, once the element is stored:
// bias and activation, a residual add. The kernel is the product's own,
// gemm_<shape>_<func>_<n>, launched where the consumer was.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>
#tr = affine_map<(i, j) -> (j, i)>

// CHECK-LABEL: func.func @bias_gelu
// CHECK: gpu.launch_func @kernels::@gemm_64x48x32_nn_bias_gelu_0 {{.*}} args(%arg0 : memref<64x32xf32>, %arg1 : memref<32x48xf32>, %arg2 : memref<64x48xf32>, %arg3 : memref<48xf32>, %arg4 : memref<64x48xf32>)
// CHECK-NEXT: return
func.func @bias_gelu(%a: memref<64x32xf32>, %b: memref<32x48xf32>, %c: memref<64x48xf32>,
                     %bias: memref<48xf32>, %out: memref<64x48xf32>) {
  linalg.matmul ins(%a, %b : memref<64x32xf32>, memref<32x48xf32>) outs(%c : memref<64x48xf32>)
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<64x48xf32>, memref<48xf32>) outs(%out : memref<64x48xf32>) {
  ^bb0(%x: f32, %y: f32, %unused: f32):
    %s = arith.addf %x, %y : f32
    %g = math.tanh %s : f32
    linalg.yield %g : f32
  }
  return
}

// A consumer that reads the product transposed needs other blocks' tiles:
// it stays a kernel of its own.
// CHECK-LABEL: func.func @transposed
// CHECK: gpu.launch_func @kernels::@gemm_48x48x32_nn blocks
// CHECK: gpu.launch_func @kernels::@transposed_0_pointwise
func.func @transposed(%a: memref<48x32xf32>, %b: memref<32x48xf32>, %c: memref<48x48xf32>,
                      %out: memref<48x48xf32>) {
  linalg.matmul ins(%a, %b : memref<48x32xf32>, memref<32x48xf32>) outs(%c : memref<48x48xf32>)
  linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<48x48xf32>) outs(%out : memref<48x48xf32>) {
  ^bb0(%x: f32, %unused: f32):
    linalg.yield %x : f32
  }
  return
}

// Nor does one that writes the product's operand, which other blocks still
// read.
// CHECK-LABEL: func.func @writes_operand
// CHECK: gpu.launch_func @kernels::@gemm_48x48x48_nn blocks
// CHECK: gpu.launch_func @kernels::@writes_operand_0_pointwise
func.func @writes_operand(%a: memref<48x48xf32>, %b: memref<48x48xf32>, %c: memref<48x48xf32>) {
  linalg.matmul ins(%a, %b : memref<48x48xf32>, memref<48x48xf32>) outs(%c : memref<48x48xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<48x48xf32>) outs(%b : memref<48x48xf32>) {
  ^bb0(%x: f32, %unused: f32):
    linalg.yield %x : f32
  }
  return
}

// The epilogue's body follows the store of each element of C, at its row
// and column.
// CHECK: gpu.func @gemm_64x48x32_nn_bias_gelu_0(%{{.*}}: memref<64x32xf32>, %{{.*}}: memref<32x48xf32>, %[[C:.*]]: memref<64x48xf32>, %[[BIAS:.*]]: memref<48xf32>, %[[OUT:.*]]: memref<64x48xf32>)
// CHECK: memref.store %{{.*}}, %[[C]][%[[ROW:.*]], %[[COL:.*]]]
// CHECK: memref.load %[[C]]
// CHECK: memref.load %[[BIAS]]
// CHECK: arith.addf
// CHECK: math.tanh
// CHECK: memref.store %{{.*}}, %[[OUT]]
