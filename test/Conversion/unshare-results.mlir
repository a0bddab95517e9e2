// RUN: tetra-opt %s --tetra-unshare-results | FileCheck %s
// RUN: tetra-opt %s --tetra-unshare-results --buffer-results-to-out-params="modify-public-functions hoist-static-allocs" | FileCheck %s --check-prefix=OUT

// A buffer returned twice: the second result is a copy of its own, so each
// returned allocation can become its out-parameter. A buffer returned once,
// and what is not a memref, stay as they are.
// CHECK-LABEL: func.func @grads
// CHECK: %[[G:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[H:.*]] = memref.alloc() : memref<8xf32>
// CHECK: %[[C:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT: memref.copy %[[G]], %[[C]] : memref<4xf32> to memref<4xf32>
// CHECK-NEXT: return %[[G]], %[[H]], %[[C]], %{{.*}} : memref<4xf32>, memref<8xf32>, memref<4xf32>, f32

// With the results hoisted, the kernels write the first two out-parameters
// in place and the copy fills the third.
// OUT-LABEL: func.func @grads(
// OUT-SAME: %{{.*}}: f32, %[[A:[a-z0-9]+]]: memref<4xf32>, %[[B:[a-z0-9]+]]: memref<8xf32>, %[[D:[a-z0-9]+]]: memref<4xf32>) -> f32
// OUT: linalg.fill ins(%{{.*}} : f32) outs(%[[A]] : memref<4xf32>)
// OUT: linalg.fill ins(%{{.*}} : f32) outs(%[[B]] : memref<8xf32>)
// OUT: memref.copy %[[A]], %[[D]]
// OUT-NOT: memref.alloc
func.func @grads(%x: f32) -> (memref<4xf32>, memref<8xf32>, memref<4xf32>, f32) {
  %g = memref.alloc() : memref<4xf32>
  linalg.fill ins(%x : f32) outs(%g : memref<4xf32>)
  %h = memref.alloc() : memref<8xf32>
  linalg.fill ins(%x : f32) outs(%h : memref<8xf32>)
  return %g, %h, %g, %x : memref<4xf32>, memref<8xf32>, memref<4xf32>, f32
}
