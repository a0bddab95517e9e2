// RUN: tetra-opt %s -split-input-file -verify-diagnostics --tetra-shard=grid=2x4x1x2

tetra.param @w : tensor<6x32xf32> init <normal, std = 0.02>
// expected-error @+1 {{'func.func' op cannot split the micro-batch of 3 samples (argument 0) over data*z}}
func.func @f(%x: tensor<3x8xi32>) -> tensor<3x8x32xf32> {
  %t = tetra.get_param @w : tensor<6x32xf32>
  %e = tetra.embedding %t[%x] : tensor<6x32xf32>, tensor<3x8xi32>
  return %e : tensor<3x8x32xf32>
}

// -----

// A table not read by token ids is no vocabulary: its rows must divide.
tetra.param @pos : tensor<6x32xf32> init <normal, std = 0.02>
func.func @f(%x: tensor<2x8xi32>) -> tensor<2x8x32xf32> {
  %t = tetra.get_param @pos : tensor<6x32xf32>
  %p = tetra.positions %x : tensor<2x8xi32>
  // expected-error @+1 {{'tetra.embedding' op cannot split dimension 0 of parameter 'pos' (size 6) over y (4 ranks)}}
  %e = tetra.embedding %t[%p] : tensor<6x32xf32>, tensor<2x8xi32>
  return %e : tensor<2x8x32xf32>
}

// -----

tetra.param @emb : tensor<64x32xf32> init <normal, std = 0.02>
tetra.param @q : tensor<24x32xf32> init <normal, std = 0.02>
func.func @f(%x: tensor<2x8xi32>) -> tensor<2x8x6x4xf32> {
  %t = tetra.get_param @emb : tensor<64x32xf32>
  %e = tetra.embedding %t[%x] : tensor<64x32xf32>, tensor<2x8xi32>
  %w = tetra.get_param @q : tensor<24x32xf32>
  %q = tetra.linear %e, %w : tensor<2x8x32xf32>, tensor<24x32xf32>
  // expected-error @+1 {{'tensor.expand_shape' op cannot split dimension 2 of the result (size 6) over y (4 ranks)}}
  %h = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [2, 8, 6, 4] : tensor<2x8x24xf32> into tensor<2x8x6x4xf32>
  return %h : tensor<2x8x6x4xf32>
}

// -----

// Two normal layers in a row would need a redistribution.
tetra.param @emb : tensor<64x32xf32> init <normal, std = 0.02>
tetra.param @a : tensor<32x32xf32> init <normal, std = 0.02>
func.func @f(%x: tensor<2x8xi32>) -> tensor<2x8x32xf32> {
  %t = tetra.get_param @emb : tensor<64x32xf32>
  %e = tetra.embedding %t[%x] : tensor<64x32xf32>, tensor<2x8xi32>
  %w = tetra.get_param @a : tensor<32x32xf32>
  %h = tetra.linear %e, %w : tensor<2x8x32xf32>, tensor<32x32xf32>
  // expected-error @+1 {{'tetra.linear' op needs its input (a normal layer reads features over x) laid out as #tetra.layout<[data, _, x]>, got #tetra.layout<[data, _, y]>}}
  %o = tetra.linear %h, %w : tensor<2x8x32xf32>, tensor<32x32xf32>
  return %o : tensor<2x8x32xf32>
}

// -----

tetra.param @emb : tensor<64x32xf32> init <normal, std = 0.02>
func.func @f(%x: tensor<2x8xi32>) -> tensor<2x8x32xf32> {
  %t = tetra.get_param @emb : tensor<64x32xf32>
  %e = tetra.embedding %t[%x] : tensor<64x32xf32>, tensor<2x8xi32>
  // expected-error @+1 {{'arith.constant' op has no sharding rule}}
  %c = arith.constant dense<0.0> : tensor<4xf32>
  return %e : tensor<2x8x32xf32>
}
