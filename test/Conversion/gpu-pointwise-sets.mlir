// Adjacent parallel groups that share no written buffer run in one launch,
// one after the other, each over all of the grid's threads: AdamW's
// per-parameter updates, fills, copies. A group that reads what an earlier
// one wrote starts a new launch.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s --check-prefix=TABLE

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

// A group whose body reads, at indices it computes, a buffer the group
// before it writes (rotary's cos and sin tables, read at rotated indices)
// starts a new launch too: in one kernel a thread, or another block, could
// read the table before it is written.
// TABLE-LABEL: func.func @table_then_lookup
// TABLE: gpu.launch_func @kernels::@table_then_lookup_0_pointwise blocks
// TABLE: gpu.launch_func @kernels::@table_then_lookup_1_pointwise blocks
// TABLE-NOT: gpu.launch_func
// TABLE: return
func.func @table_then_lookup(%table: memref<16xf32>, %x: memref<300xf32>, %y: memref<300xf32>) {
  %c16 = arith.constant 16 : index
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel"]} outs(%table : memref<16xf32>) {
  ^bb0(%unused: f32):
    %i = linalg.index 0 : index
    %n = arith.index_cast %i : index to i64
    %v = arith.uitofp %n : i64 to f32
    linalg.yield %v : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<300xf32>) outs(%y : memref<300xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %i = linalg.index 0 : index
    %at = arith.remui %i, %c16 : index
    %t = memref.load %table[%at] : memref<16xf32>
    %r = arith.mulf %in, %t : f32
    linalg.yield %r : f32
  }
  return
}
