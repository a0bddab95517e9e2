// Adjacent groups over the same rows share one block-per-row kernel when a
// row reduction is among them and each reads what the others wrote only at
// its own loop point: an RMSNorm's sum of squares and its normalised row
// become one launch, the members behind barriers.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#col = affine_map<(i, j) -> (j)>
#first = affine_map<(i, j) -> (0)>

// CHECK-LABEL: func.func @norm
// CHECK: gpu.launch_func @kernels::@norm_0_row_fused blocks in (%c8, %{{.*}}, %{{.*}}) threads in (%c64,
// CHECK-NOT: gpu.launch_func
// CHECK: return
// The fill of the statistics before the reduction joins too, on thread 0
// of the row's block.
// CHECK-LABEL: func.func @filled_norm
// CHECK: gpu.launch_func @kernels::@filled_norm_0_row_fused
// CHECK-NOT: gpu.launch_func
// CHECK: return

// A statistic read at another row than the block's is not fused: that row
// may belong to another block.
// CHECK-LABEL: func.func @other_row
// CHECK: gpu.launch_func @kernels::@other_row_0_row_reduction
// CHECK: gpu.launch_func @kernels::@other_row_1_pointwise

// The sum of squares as a tree, thread 0 writing the row's total, a barrier,
// then every thread normalising its elements of the row, a barrier.
// CHECK: gpu.func @norm_0_row_fused({{.*}}) workgroup(%[[SLOTS:.*]] : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for %{{.*}} = %thread_id_x to %c256{{.*}} step %c64{{.*}} iter_args
// CHECK: arith.mulf
// CHECK: gpu.barrier
// CHECK-COUNT-6: arith.cmpi ult, %thread_id_x
// CHECK: arith.cmpi eq, %thread_id_x
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %thread_id_x to %c256{{.*}} step %c64
// CHECK: math.rsqrt
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK: gpu.func @filled_norm_0_row_fused
// CHECK: scf.for %[[POINT:.*]] = %block_id_x
// CHECK: %[[LEAD:.*]] = arith.cmpi eq, %thread_id_x
// CHECK: scf.if %[[LEAD]] {
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<8xf32>
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %thread_id_x to %c256
func.func @norm(%x: memref<8x256xf32>, %w: memref<256xf32>, %ss: memref<8xf32>,
                %y: memref<8x256xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x256xf32>) outs(%ss : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %sq = arith.mulf %v, %v : f32
    %sum = arith.addf %acc, %sq : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss, %w : memref<8x256xf32>, memref<8xf32>, memref<256xf32>) outs(%y : memref<8x256xf32>) {
  ^bb0(%v: f32, %s: f32, %g: f32, %unused: f32):
    %n = arith.constant 256.0 : f32
    %eps = arith.constant 1.0e-5 : f32
    %mean = arith.divf %s, %n : f32
    %shifted = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %shifted : f32
    %scaled = arith.mulf %v, %inv : f32
    %out = arith.mulf %scaled, %g : f32
    linalg.yield %out : f32
  }
  return
}

func.func @filled_norm(%x: memref<8x256xf32>, %ss: memref<8xf32>, %y: memref<8x256xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%ss : memref<8xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x256xf32>) outs(%ss : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %sq = arith.mulf %v, %v : f32
    %sum = arith.addf %acc, %sq : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss : memref<8x256xf32>, memref<8xf32>) outs(%y : memref<8x256xf32>) {
  ^bb0(%v: f32, %s: f32, %unused: f32):
    %out = arith.divf %v, %s : f32
    linalg.yield %out : f32
  }
  return
}

func.func @other_row(%x: memref<8x256xf32>, %ss: memref<8xf32>, %y: memref<8x256xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x256xf32>) outs(%ss : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %sum = arith.addf %acc, %v : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#id, #first, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss : memref<8x256xf32>, memref<8xf32>) outs(%y : memref<8x256xf32>) {
  ^bb0(%v: f32, %s: f32, %unused: f32):
    %out = arith.divf %v, %s : f32
    linalg.yield %out : f32
  }
  return
}
