// RUN: tetra-opt %s -split-input-file | tetra-opt -split-input-file | FileCheck %s

// Collectives over named grid axes, synchronous and asynchronous; sizes are
// checked against the enclosing grid.

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 8>} {
  // CHECK-LABEL: func.func @sync
  func.func @sync(%w: tensor<6x8xf32>, %g: tensor<48x8xf32>) -> (tensor<12x8xf32>, tensor<6x8xf32>, tensor<6x8xf32>) {
    // CHECK: tetra.all_gather %{{.*}} over [z] dim 0 : tensor<6x8xf32> -> tensor<12x8xf32>
    %0 = tetra.all_gather %w over [z] dim 0 : tensor<6x8xf32> -> tensor<12x8xf32>
    // CHECK: tetra.reduce_scatter %{{.*}} over [y, x] dim 0 : tensor<48x8xf32> -> tensor<6x8xf32>
    %1 = tetra.reduce_scatter %g over [y, x] dim 0 : tensor<48x8xf32> -> tensor<6x8xf32>
    // CHECK: tetra.all_reduce %{{.*}} over [data, z] {kind = #tetra.reduce<max>} : tensor<6x8xf32>
    %2 = tetra.all_reduce %w over [data, z] {kind = #tetra.reduce<max>} : tensor<6x8xf32>
    return %0, %1, %2 : tensor<12x8xf32>, tensor<6x8xf32>, tensor<6x8xf32>
  }

  // CHECK-LABEL: func.func @async
  func.func @async(%w: tensor<6x8xf32>, %g: tensor<6x16xf32>) -> (tensor<6x16xf32>, tensor<6x8xf32>, tensor<6x8xf32>) {
    // CHECK: %[[T0:.*]] = tetra.all_gather_start %{{.*}} over [x] dim 1 : tensor<6x8xf32> -> !tetra.token<tensor<6x16xf32>>
    %t0 = tetra.all_gather_start %w over [x] dim 1 : tensor<6x8xf32> -> !tetra.token<tensor<6x16xf32>>
    // CHECK: tetra.reduce_scatter_start %{{.*}} over [x] dim 1 : tensor<6x16xf32> -> !tetra.token<tensor<6x8xf32>>
    %t1 = tetra.reduce_scatter_start %g over [x] dim 1 : tensor<6x16xf32> -> !tetra.token<tensor<6x8xf32>>
    // CHECK: tetra.all_reduce_start %{{.*}} over [y] : tensor<6x8xf32> -> !tetra.token<tensor<6x8xf32>>
    %t2 = tetra.all_reduce_start %w over [y] : tensor<6x8xf32> -> !tetra.token<tensor<6x8xf32>>
    // CHECK: tetra.wait %[[T0]] : !tetra.token<tensor<6x16xf32>>
    %0 = tetra.wait %t0 : !tetra.token<tensor<6x16xf32>>
    %1 = tetra.wait %t1 : !tetra.token<tensor<6x8xf32>>
    %2 = tetra.wait %t2 : !tetra.token<tensor<6x8xf32>>
    return %0, %1, %2 : tensor<6x16xf32>, tensor<6x8xf32>, tensor<6x8xf32>
  }
}

// -----

// A function's own grid is used before the module's.
// CHECK-LABEL: func.func @function_grid
func.func @function_grid(%w: tensor<3x8xf32>) -> tensor<9x8xf32> attributes {tetra.grid = #tetra.grid<x = 1, y = 1, z = 3, data = 1>} {
  %0 = tetra.all_gather %w over [z] dim 0 : tensor<3x8xf32> -> tensor<9x8xf32>
  return %0 : tensor<9x8xf32>
}
