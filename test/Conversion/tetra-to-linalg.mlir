// RUN: tetra-opt %s -split-input-file -verify-diagnostics -convert-tetra-to-linalg | FileCheck %s

// A linear layer becomes a contraction over K on rows flattened to [M, K].
// CHECK-LABEL: func.func @linear
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: tensor.expand_shape {{.*}} into tensor<2x3x5xf32>
// CHECK-NOT: tetra.
func.func @linear(%x: tensor<2x3x4xf32>, %w: tensor<5x4xf32>) -> tensor<2x3x5xf32> {
  %0 = tetra.linear %x, %w : tensor<2x3x4xf32>, tensor<5x4xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// RMSNorm: a sum of squares over the last dimension, then one scaling pass.
// CHECK-LABEL: func.func @rmsnorm
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: math.rsqrt
func.func @rmsnorm(%x: tensor<3x8xf32>, %w: tensor<8xf32>) -> tensor<3x8xf32> {
  %0 = tetra.rmsnorm %x, %w {eps = 1.0e-6 : f64} : tensor<3x8xf32>, tensor<8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

// Attention: per (batch, head) a 2-D GEMM of scores (the BLAS pass takes
// those), a masked row maximum, exponentials, their sum, and the weighted
// values; GQA reads key head h / (Hq / Hkv).
// CHECK-LABEL: func.func @attention
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.divui %{{.*}}, %[[C2:.*]] : index
// CHECK: tensor.extract_slice {{.*}} : tensor<1x4x4x8xf32> to tensor<4x8xf32>
// CHECK: tensor.extract_slice {{.*}} : tensor<1x4x2x8xf32> to tensor<4x8xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: tensor.insert_slice
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
func.func @attention(%q: tensor<1x4x4x8xf32>, %k: tensor<1x4x2x8xf32>) -> tensor<1x4x4x8xf32> {
  %0 = tetra.attention %q, %k, %k {causal} : tensor<1x4x4x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>
  return %0 : tensor<1x4x4x8xf32>
}

// -----

func.func @dynamic(%x: tensor<?x4xf32>, %w: tensor<5x4xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{needs static shapes to be lowered; got 'tensor<?x5xf32>'}}
  %0 = tetra.linear %x, %w : tensor<?x4xf32>, tensor<5x4xf32>
  return %0 : tensor<?x5xf32>
}

// -----

func.func @loki(%q: tensor<1x4x2x8xf32>) -> tensor<1x4x2x8xf32> {
  // expected-error @+1 {{Loki attention has no CPU lowering yet}}
  %0 = tetra.attention %q, %q, %q {causal, loki = #tetra.loki<dim_fraction = 0.5, topk_fraction = 0.5>} : tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>
  return %0 : tensor<1x4x2x8xf32>
}

// -----

func.func @goldfish_table(%l: tensor<2x3x5xf32>, %t: tensor<2x3xi32>) -> tensor<f32> {
  // expected-error @+1 {{goldfish table 't.bin' cannot be read}}
  %0 = tetra.cross_entropy %l, %t {goldfish = #tetra.goldfish<table, k = 4, h = 13, table = "t.bin">} : tensor<2x3x5xf32>, tensor<2x3xi32>
  return %0 : tensor<f32>
}

// -----

// The hash rule: a product over the window of h targets (an scf.for inside the
// mask's loop body), the avalanche hash, and the threshold (2^32 - 1) / k.
// CHECK-LABEL: func.func @goldfish_hash
// CHECK: linalg.generic
// CHECK: scf.for
// CHECK: arith.muli
// CHECK: arith.shrui
// CHECK: arith.cmpf olt, %{{.*}}, %{{.*}} : f64
func.func @goldfish_hash(%l: tensor<2x3x5xf32>, %t: tensor<2x3xi32>) -> tensor<f32> {
  %0 = tetra.cross_entropy %l, %t {goldfish = #tetra.goldfish<hash, k = 4, h = 2>} : tensor<2x3x5xf32>, tensor<2x3xi32>
  return %0 : tensor<f32>
}
