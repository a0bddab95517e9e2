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
// An online log-sum-exp (marked by its lowering) is, its maximum and sum
// combined as a pair.
// CHECK: gpu.launch_func @kernels::@rows_4_row_reduction

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
// CHECK: memref.load %[[MAX]][%c0
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: gpu.barrier

// A 2-D row (4 x 50 = 200 elements) reduced into a scalar per row.
// CHECK: gpu.func @rows_1_row_reduction({{.*}}) workgroup(%{{.*}} : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.func @rows_2_reduction({{.*}}) kernel
// CHECK: gpu.func @rows_3_reduction({{.*}}) kernel
// The pair's partials start from (-inf, 0); two partials (m1, s1) and
// (m2, s2) combine to M = max(m1, m2) and s1 exp(m1 - M) + s2 exp(m2 - M),
// an exponent skipped where m = M (two empty partials stay (-inf, 0)).
// CHECK: gpu.func @rows_4_row_reduction({{.*}}) workgroup(%[[M:.*]] : memref<128xf32, #gpu.address_space<workgroup>>, %[[S:.*]] : memref<128xf32, #gpu.address_space<workgroup>>)
// CHECK: iter_args(%{{.*}} = %[[NEGINF4:.*]], %{{.*}} = %[[ZERO4:.*]]) -> (f32, f32)
// CHECK: %[[M1:.*]] = memref.load %[[M]][%thread_id_x]
// CHECK: %[[M2:.*]] = memref.load %[[M]][%[[PARTNER:.*]]]
// CHECK: %[[S1:.*]] = memref.load %[[S]][%thread_id_x]
// CHECK: %[[S2:.*]] = memref.load %[[S]][%[[PARTNER]]]
// CHECK: %[[TOP:.*]] = arith.maximumf %[[M1]], %[[M2]]
// CHECK: arith.cmpf oeq, %[[M1]], %[[TOP]]
// CHECK: arith.subf %[[M1]], %[[TOP]]
// CHECK: math.exp
// CHECK: arith.cmpf oeq, %[[M2]], %[[TOP]]
// CHECK: memref.store %[[TOP]], %[[M]][%thread_id_x]
func.func @rows(%x: memref<8x300xf32>, %s: memref<8xf32>, %m: memref<8xf32>,
                %y: memref<6x4x50xf32>, %t: memref<6xf32>, %short: memref<8x20xf32>,
                %u: memref<8xf32>, %lse_max: memref<8xf32>, %lse_sum: memref<8xf32>) {
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
  linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x300xf32>) outs(%lse_max, %lse_sum : memref<8xf32>, memref<8xf32>)
      attrs = {tetra.online_logsumexp} {
  ^bb0(%v: f32, %run_max: f32, %run_sum: f32):
    %n = arith.maximumf %run_max, %v : f32
    %d = arith.subf %run_max, %n : f32
    %r = math.exp %d : f32
    %kept = arith.mulf %run_sum, %r : f32
    %w = arith.subf %v, %n : f32
    %e = math.exp %w : f32
    %q = arith.addf %kept, %e : f32
    linalg.yield %n, %q : f32, f32
  }
  return
}
