// Adjacent parallel groups that share no written buffer run in one launch,
// one after the other, each over all of the grid's threads: AdamW's
// per-parameter updates, fills, copies. A group that reads what an earlier
// one wrote starts a new launch.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

#id = affine_map<(i) -> (i)>

// CHECK-LABEL: func.func @updates
// Two independent updates (of 300 and 1000 elements) and a fill: one
// launch sized for the largest.
// CHECK: gpu.launch_func @kernels::@updates_0_pointwise_fused blocks in (%c4, %{{.*}}, %{{.*}}) threads in (%c256,
// The scale of %p reads %p, which the first update wrote: a launch of its own.
// CHECK: gpu.launch_func @kernels::@updates_1_pointwise blocks
// CHECK-NOT: gpu.launch_func
// CHECK: return
// The fused kernel: three grid-stride loops from the same first index.
// CHECK: gpu.func @updates_0_pointwise_fused
// CHECK: %[[FIRST:.*]] = arith.addi
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %c300
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %c1000
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %c16
func.func @updates(%p: memref<300xf32>, %g: memref<300xf32>, %q: memref<1000xf32>,
                   %h: memref<1000xf32>, %z: memref<16xf32>) {
  %lr = arith.constant 0.1 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%g : memref<300xf32>) outs(%p : memref<300xf32>) {
  ^bb0(%grad: f32, %w: f32):
    %step = arith.mulf %grad, %lr : f32
    %next = arith.subf %w, %step : f32
    linalg.yield %next : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%h : memref<1000xf32>) outs(%q : memref<1000xf32>) {
  ^bb0(%grad: f32, %w: f32):
    %step = arith.mulf %grad, %lr : f32
    %next = arith.subf %w, %step : f32
    linalg.yield %next : f32
  }
  linalg.fill ins(%lr : f32) outs(%z : memref<16xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : memref<300xf32>) outs(%g : memref<300xf32>) {
  ^bb0(%w: f32, %unused: f32):
    %scaled = arith.mulf %w, %lr : f32
    linalg.yield %scaled : f32
  }
  return
}
