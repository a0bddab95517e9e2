// tetra-unshare-fills: a zero-filled tensor that CSE made the destination of
// two matrix products is filled once per product, next to it, so
// bufferization fills each product's buffer in place instead of copying.
// RUN: tetra-opt %s --tetra-unshare-fills | FileCheck %s
// RUN: tetra-opt %s --tetra-unshare-fills --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=BUFFERS
// RUN: tetra-opt %s --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=SHARED

// CHECK-LABEL: func.func @two_products
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<8x8xf32>
// CHECK: %[[F1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E1]] : tensor<8x8xf32>)
// CHECK: linalg.matmul ins(%arg0, %arg1 : {{.*}}) outs(%[[F1]] : tensor<8x8xf32>)
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<8x8xf32>
// CHECK: %[[F2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E2]] : tensor<8x8xf32>)
// CHECK: linalg.matmul ins(%arg1, %arg0 : {{.*}}) outs(%[[F2]] : tensor<8x8xf32>)
// BUFFERS-LABEL: func.func @two_products
// BUFFERS-NOT: memref.copy
// BUFFERS: return
// Without it, the second product copies the shared zeros.
// SHARED-LABEL: func.func @two_products
// SHARED: memref.copy
func.func @two_products(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %c1 = linalg.matmul ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%z : tensor<8x8xf32>) -> tensor<8x8xf32>
  %c2 = linalg.matmul ins(%b, %a : tensor<8x8xf32>, tensor<8x8xf32>) outs(%z : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %c1, %c2 : tensor<8x8xf32>, tensor<8x8xf32>
}
