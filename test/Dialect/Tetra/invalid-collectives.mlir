// RUN: tetra-opt %s -split-input-file -verify-diagnostics

// Every message of the collectives' verifiers.

func.func @no_grid(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'tetra.all_reduce' op needs a grid: put `tetra.grid = #tetra.grid<...>` on the enclosing function or module}}
  %0 = tetra.all_reduce %x over [x] : tensor<4x8xf32>
  return
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @no_axes(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_reduce' op needs at least one grid axis}}
    %0 = tetra.all_reduce %x over [] : tensor<4x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @twice(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_reduce' op axis list names grid axis 'y' twice}}
    %0 = tetra.all_reduce %x over [y, y] : tensor<4x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @invalid_axis(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_reduce' op axis list names an invalid grid axis 7}}
    %0 = "tetra.all_reduce"(%x) <{axes = array<i32: 7>}> : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @dtype(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather' op result element type 'f16' differs from input element type 'f32'}}
    %0 = tetra.all_gather %x over [x] dim 0 : tensor<4x8xf32> -> tensor<8x8xf16>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @rank(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather' op result rank 1 differs from input rank 2}}
    %0 = tetra.all_gather %x over [x] dim 0 : tensor<4x8xf32> -> tensor<64xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @dim_range(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather' op dim 2 is out of range for rank 2}}
    %0 = tetra.all_gather %x over [x] dim 2 : tensor<4x8xf32> -> tensor<4x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @other_dim(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather' op dimension 1 changes from 8 to 16 but only dim 0 may}}
    %0 = tetra.all_gather %x over [x] dim 0 : tensor<4x8xf32> -> tensor<8x16xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 2>} {
  func.func @gather_size(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather' op gathering dim 0 of size 4 over a group of 8 ranks gives 32, not 16}}
    %0 = tetra.all_gather %x over [y, z] dim 0 : tensor<4x8xf32> -> tensor<16x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 2>} {
  func.func @scatter_size(%x: tensor<6x8xf32>) {
    // expected-error @+1 {{'tetra.reduce_scatter' op scattering dim 0 of size 6 over a group of 4 ranks needs a multiple of 4 and gives no integer size, not 1}}
    %0 = tetra.reduce_scatter %x over [y] dim 0 : tensor<6x8xf32> -> tensor<1x8xf32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 2>} {
  func.func @scatter_start(%x: tensor<8x8xf32>) {
    // expected-error @+1 {{'tetra.reduce_scatter_start' op scattering dim 1 of size 8 over a group of 4 ranks needs a multiple of 4 and gives 2, not 4}}
    %0 = tetra.reduce_scatter_start %x over [y] dim 1 : tensor<8x8xf32> -> !tetra.token<tensor<8x4xf32>>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 2>} {
  func.func @gather_start(%x: tensor<8x8xf32>) {
    // expected-error @+1 {{'tetra.all_gather_start' op result must be a ranked tensor, got 'i32'}}
    %0 = tetra.all_gather_start %x over [y] dim 1 : tensor<8x8xf32> -> !tetra.token<i32>
    return
  }
}

// -----

module attributes {tetra.grid = #tetra.grid<x = 2, y = 4, z = 2, data = 2>} {
  func.func @reduce_start(%x: tensor<8x8xf32>) {
    // expected-error @+1 {{'tetra.all_reduce_start' op token carries 'tensor<8x4xf32>' but an all_reduce yields its input type 'tensor<8x8xf32>'}}
    %0 = tetra.all_reduce_start %x over [y] : tensor<8x8xf32> -> !tetra.token<tensor<8x4xf32>>
    return
  }
}
