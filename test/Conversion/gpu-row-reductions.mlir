// Reductions over rows of kBlockPerRowMinimum (64) elements or more: a block
// per row, threads taking the row's elements in turn, partials combined as a
// tree in shared memory, thread 0 folding the total into the output.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>

// CHECK-LABEL: func.func @rows
// 8 rows of 300: 8 blocks of 128 threads (a quarter of 300 rounded up to a
// power of two).
// CHECK: gpu.launch_func @kernels::@rows_0_row_reduction blocks in (%c8, %{{.*}}, %{{.*}}) threads in (%c128,
// CHECK: gpu.launch_func @kernels::@rows_1_row_reduction
// Rows of 20 stay one thread each.
// CHECK: gpu.launch_func @kernels::@rows_2_reduction
// A body that reads its output beyond the combining op is not a plain fold.
// CHECK: gpu.launch_func @kernels::@rows_3_reduction

// Sum of exponentials and maximum, two outputs: one slot array each.
// CHECK: gpu.func @rows_0_row_reduction({{.*}}) workgroup(%[[SUM:.*]] : memref<128xf32, #gpu.address_space<workgroup>>, %[[MAX:.*]] : memref<128xf32, #gpu.address_space<workgroup>>)
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: scf.for %[[POINT:.*]] = %block_id_x to %c8{{.*}} step %c8
// CHECK: %[[PARTIAL:.*]]:2 = scf.for %{{.*}} = %thread_id_x to %c300{{.*}} step %c128{{.*}} iter_args(%{{.*}} = %[[ZERO]], %{{.*}} = %[[NEGINF]])
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: memref.store %[[PARTIAL]]#0, %[[SUM]][%thread_id_x]
// CHECK: memref.store %[[PARTIAL]]#1, %[[MAX]][%thread_id_x]
// CHECK: gpu.barrier
// Seven levels of the tree, 64 partners down to 1, each behind a barrier.
// CHECK-COUNT-7: arith.cmpi ult, %thread_id_x
// CHECK: arith.cmpi eq, %thread_id_x
// CHECK: scf.if
// CHECK: memref.load %[[SUM]][%c0
// CHECK: arith.addf
// CHECK: memref.load %[[MAX]][%c0
// CHECK: arith.maximumf
// CHECK: gpu.barrier

// A 2-D row (4 x 50 = 200 elements) reduced into a scalar per row.
// CHECK: gpu.func @rows_1_row_reduction({{.*}}) workgroup(%{{.*}} : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.func @rows_2_reduction({{.*}}) kernel
// CHECK: gpu.func @rows_3_reduction({{.*}}) kernel
func.func @rows(%x: memref<8x300xf32>, %s: memref<8xf32>, %m: memref<8xf32>,
                %y: memref<6x4x50xf32>, %t: memref<6xf32>, %short: memref<8x20xf32>,
                %u: memref<8xf32>) {
  linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x300xf32>) outs(%s, %m : memref<8xf32>, memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32, %top: f32):
    %e = math.exp %v : f32
    %q = arith.addf %acc, %e : f32
    %n = arith.maximumf %v, %top : f32
    linalg.yield %q, %n : f32, f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (i)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%y : memref<6x4x50xf32>) outs(%t : memref<6xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %sq = arith.mulf %v, %v : f32
    %q = arith.addf %acc, %sq : f32
    linalg.yield %q : f32
  }
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%short : memref<8x20xf32>) outs(%u : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %q = arith.addf %acc, %v : f32
    linalg.yield %q : f32
  }
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x300xf32>) outs(%u : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %h = arith.mulf %acc, %v : f32
    %q = arith.addf %acc, %h : f32
    linalg.yield %q : f32
  }
  return
}
