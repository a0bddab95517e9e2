// Four fused groups of a layer, bufferized: a matrix product into a bias,
// an activation epilogue, a fill and a row reduction.
#mk = affine_map<(i, j, r) -> (i, r)>
#nk = affine_map<(i, j, r) -> (j, r)>
#mn = affine_map<(i, j, r) -> (i, j)>
#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
func.func @layer(%x: memref<40x24xf32>, %w: memref<20x24xf32>, %y: memref<40x20xf32>,
                 %s: memref<40xf32>) {
  linalg.generic {indexing_maps = [#mk, #nk, #mn],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<40x24xf32>, memref<20x24xf32>) outs(%y : memref<40x20xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  %two = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%y : memref<40x20xf32>) {
  ^bb0(%v: f32):
    %t = math.tanh %v : f32
    %u = arith.mulf %t, %two : f32
    linalg.yield %u : f32
  }
  linalg.fill ins(%two : f32) outs(%s : memref<40xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<40x20xf32>) outs(%s : memref<40xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %q = arith.addf %acc, %v : f32
    linalg.yield %q : f32
  }
  return
}
