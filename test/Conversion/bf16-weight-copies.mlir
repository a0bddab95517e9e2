// RUN: tetra-opt %s --split-input-file --tetra-bf16-weight-copies | FileCheck %s
// RUN: echo 'func.func @round_params() { return }' | not tetra-opt --tetra-bf16-weight-copies 2>&1 | FileCheck %s --check-prefix=ERR

#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#bt = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#tok = affine_map<(d0, d1) -> (d0)>

// A weight every reader of which widens it becomes a bf16 argument of role
// param_bf16, widened where each reads it: products (x W, and dX = dY Wᵀ
// through a reshape), a norm's pointwise loop, a weight read by both, and
// the embedding's lookup of one element. A weight something else reads (here
// the entry returns it) stays the fp32 master; so does what has no
// parameter role.
// CHECK-LABEL: func.func @grad(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<8x4xbf16> {tetra.name = "w", tetra.role = "param_bf16"}
// CHECK-SAME: %{{.*}}: tensor<8xbf16> {tetra.name = "norm", tetra.role = "param_bf16"}
// CHECK-SAME: %{{.*}}: tensor<4x8xbf16> {tetra.name = "shared", tetra.role = "param_bf16"}
// CHECK-SAME: %[[TABLE:[a-z0-9]+]]: tensor<16x8xbf16> {tetra.name = "table", tetra.role = "param_bf16"}
// CHECK-SAME: %{{.*}}: tensor<8xf32> {tetra.name = "returned", tetra.role = "param"}
// CHECK-SAME: %{{.*}}: tensor<8x4xf32> {tetra.role = "input"}
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[W]] : tensor<4x8xf32>, tensor<8x4xbf16>)
// CHECK: ^bb0(%{{.*}}: f32, %[[R:.*]]: bf16, %{{.*}}: f32):
// CHECK-NEXT: %[[WIDE:.*]] = arith.extf %[[R]] : bf16 to f32
// CHECK: %[[V:.*]] = tensor.expand_shape %[[W]] {{.*}} : tensor<8x4xbf16> into tensor<2x4x4xbf16>
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[V]] {{.*}} : tensor<2x4x4xbf16> into tensor<8x4xbf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[F]] : tensor<4x4xf32>, tensor<8x4xbf16>)
// CHECK: arith.extf
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8xbf16>, tensor<4x8xbf16>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<4x8xbf16>, tensor<8x4xf32>)
// CHECK: %[[ROW:.*]] = tensor.extract %[[TABLE]][%{{.*}}, %{{.*}}] : tensor<16x8xbf16>
// CHECK-NEXT: arith.extf %[[ROW]] : bf16 to f32
func.func @grad(%x: tensor<4x8xf32> {tetra.role = "tokens"},
                %w: tensor<8x4xf32> {tetra.role = "param", tetra.name = "w"},
                %norm: tensor<8xf32> {tetra.role = "param", tetra.name = "norm"},
                %shared: tensor<4x8xf32> {tetra.role = "param", tetra.name = "shared"},
                %table: tensor<16x8xf32> {tetra.role = "param", tetra.name = "table"},
                %returned: tensor<8xf32> {tetra.role = "param", tetra.name = "returned"},
                %other: tensor<8x4xf32> {tetra.role = "input"},
                %dy: tensor<4x4xf32> {tetra.role = "input"},
                %ids: tensor<4xindex> {tetra.role = "input"})
    -> (tensor<4x4xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x4xf32>, tensor<4x8xf32>,
        tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %e44 = tensor.empty() : tensor<4x4xf32>
  %f44 = linalg.fill ins(%zero : f32) outs(%e44 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f44 : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %v = tensor.expand_shape %w [[0, 1], [2]] output_shape [2, 4, 4] : tensor<8x4xf32> into tensor<2x4x4xf32>
  %flat = tensor.collapse_shape %v [[0, 1], [2]] : tensor<2x4x4xf32> into tensor<8x4xf32>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %f48 = linalg.fill ins(%zero : f32) outs(%e48 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %dx = linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %flat : tensor<4x4xf32>, tensor<8x4xf32>) outs(%f48 : tensor<4x8xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #row, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%dx, %norm, %shared : tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) outs(%e48 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %n: f32, %sh: f32, %out: f32):
    %m = arith.mulf %in, %n : f32
    %s = arith.addf %m, %sh : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %t = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%shared, %other : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f44 : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %emb = linalg.generic {indexing_maps = [#tok, #id], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<4xindex>) outs(%e48 : tensor<4x8xf32>) {
  ^bb0(%id: index, %out: f32):
    %j = linalg.index 1 : index
    %row = tensor.extract %table[%id, %j] : tensor<16x8xf32>
    linalg.yield %row : f32
  } -> tensor<4x8xf32>
  return %y, %dx, %scaled, %t, %emb, %returned
      : tensor<4x4xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x4xf32>, tensor<4x8xf32>,
        tensor<8xf32>
}

// The update, which writes the masters, reads them as they are.
// CHECK-LABEL: func.func @update(
// CHECK-SAME: tensor<8x4xf32> {tetra.name = "w", tetra.role = "param"}
func.func @update(%w: tensor<8x4xf32> {tetra.role = "param", tetra.name = "w"})
    -> (tensor<8x4xf32> {tetra.role = "param", tetra.name = "w"}) {
  %e = tensor.empty() : tensor<8x4xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %half = arith.constant 0.5 : f32
    %m = arith.mulf %in, %half : f32
    linalg.yield %m : f32
  } -> tensor<8x4xf32>
  return %n : tensor<8x4xf32>
}

// @round_params rounds each copied master to bf16 (nearest even), one
// pointwise loop each.
// CHECK-LABEL: func.func @round_params(
// CHECK-SAME: %[[M:[a-z0-9]+]]: tensor<8x4xf32> {tetra.name = "w", tetra.role = "param"}
// CHECK-SAME: tensor<16x8xf32> {tetra.name = "table", tetra.role = "param"})
// CHECK-SAME: -> (tensor<8x4xbf16> {tetra.name = "w", tetra.role = "param_bf16"}
// CHECK-SAME: tensor<16x8xbf16> {tetra.name = "table", tetra.role = "param_bf16"})
// CHECK: %[[E:.*]] = tensor.empty() : tensor<8x4xbf16>
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[M]] : tensor<8x4xf32>) outs(%[[E]] : tensor<8x4xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: return %[[C]]
// CHECK-NOT: func.func

// -----

// A weight sharded over z, gathered before its product (tetra-overlap's
// start and wait, or the blocking gather): the shard is the bf16 copy, the
// gather moves bf16 and its result is widened by the product.
#a2 = affine_map<(d0, d1, d2) -> (d0, d2)>
#b2 = affine_map<(d0, d1, d2) -> (d2, d1)>
#c2 = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @gathered(
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<16xbf16> {tetra.name = "w", tetra.role = "param_bf16"}
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<16xbf16> {tetra.name = "u", tetra.role = "param_bf16"}
// CHECK: %[[TOKEN:.*]] = tetra.all_gather_start %[[S]] over [z] dim 0 : tensor<16xbf16> -> !tetra.token<tensor<32xbf16>>
// CHECK: %[[G:.*]] = tetra.wait %[[TOKEN]] : !tetra.token<tensor<32xbf16>>
// CHECK: %[[W:.*]] = tensor.expand_shape %[[G]] {{.*}} : tensor<32xbf16> into tensor<8x4xbf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[W]] : tensor<4x8xf32>, tensor<8x4xbf16>)
// CHECK: tetra.all_gather %[[T]] over [z] dim 0 : tensor<16xbf16> -> tensor<32xbf16>
func.func @gathered(%x: tensor<4x8xf32> {tetra.role = "tokens"},
                    %shard: tensor<16xf32> {tetra.role = "param", tetra.name = "w"},
                    %other: tensor<16xf32> {tetra.role = "param", tetra.name = "u"})
    -> (tensor<4x4xf32>, tensor<4x4xf32>) attributes {tetra.grid = #tetra.grid<x = 1, y = 1, z = 2, data = 1>} {
  %token = tetra.all_gather_start %shard over [z] dim 0 : tensor<16xf32> -> !tetra.token<tensor<32xf32>>
  %whole = tetra.wait %token : !tetra.token<tensor<32xf32>>
  %w = tensor.expand_shape %whole [[0, 1]] output_shape [8, 4] : tensor<32xf32> into tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [#a2, #b2, #c2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %u_whole = tetra.all_gather %other over [z] dim 0 : tensor<16xf32> -> tensor<32xf32>
  %u = tensor.expand_shape %u_whole [[0, 1]] output_shape [8, 4] : tensor<32xf32> into tensor<8x4xf32>
  %z = linalg.generic {indexing_maps = [#a2, #b2, #c2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %u : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  return %y, %z : tensor<4x4xf32>, tensor<4x4xf32>
}
// CHECK-LABEL: func.func @round_params(
// CHECK-SAME: -> (tensor<16xbf16> {tetra.name = "w", tetra.role = "param_bf16"}, tensor<16xbf16> {tetra.name = "u", tetra.role = "param_bf16"})

// -----

// A module without parameters that products read gets no copies.
// CHECK-LABEL: func.func @no_products(
// CHECK-NOT: round_params
func.func @no_products(%w: tensor<8xf32> {tetra.role = "param", tetra.name = "w"}) -> tensor<8xf32> {
  return %w : tensor<8xf32>
}

// ERR: error: the module already has a function @round_params
