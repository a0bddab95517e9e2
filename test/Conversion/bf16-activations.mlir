// RUN: tetra-opt %s --tetra-bf16-activations | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// A pointwise result that only generics read is stored as bf16: the
// producer rounds what it yields, the reader widens it first thing, and
// goes on computing in fp32. What the function returns stays fp32.
// CHECK-LABEL: func.func @pointwise
// CHECK: %[[E:.*]] = tensor.empty() : tensor<4x8xbf16>
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>) outs(%[[E]] : tensor<4x8xbf16>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: bf16):
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: linalg.yield %[[R]] : bf16
// CHECK: %[[V:.*]] = tensor.expand_shape %[[H]] {{.*}} : tensor<4x8xbf16> into tensor<4x2x4xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[V]] : tensor<4x2x4xbf16>) outs(%{{.*}} : tensor<4x2x4xf32>)
// CHECK: ^bb0(%[[X:.*]]: bf16, %{{.*}}: f32):
// CHECK-NEXT: %[[W:.*]] = arith.extf %[[X]] : bf16 to f32
// CHECK-NEXT: arith.mulf %[[W]], %[[W]] : f32
// CHECK: return %{{.*}} : tensor<4x2x4xf32>
func.func @pointwise(%x: tensor<4x8xf32>) -> tensor<4x2x4xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<4x8xf32>
  %v = tensor.expand_shape %h [[0], [1, 2]] output_shape [4, 2, 4] : tensor<4x8xf32> into tensor<4x2x4xf32>
  %e3 = tensor.empty() : tensor<4x2x4xf32>
  %sq = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v : tensor<4x2x4xf32>) outs(%e3 : tensor<4x2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    linalg.yield %m : f32
  } -> tensor<4x2x4xf32>
  return %sq : tensor<4x2x4xf32>
}

// A matrix product into a fill, read by a generic: a bf16 fill of its own,
// the output widened before the add and the sum rounded back; its bf16
// input is widened where it is read. A product into anything else (here
// an argument), and one the function returns, stay fp32.
// CHECK-LABEL: func.func @products
// CHECK: %[[A:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x8xbf16>)
// CHECK: %[[Z:.*]] = arith.constant 0.000000e+00 : bf16
// CHECK: %[[F:.*]] = linalg.fill ins(%[[Z]] : bf16) outs(%{{.*}} : tensor<4x4xbf16>) -> tensor<4x4xbf16>
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[A]], %arg1 : tensor<4x8xbf16>, tensor<8x4xf32>) outs(%[[F]] : tensor<4x4xbf16>)
// CHECK: ^bb0(%[[PA:.*]]: bf16, %[[PB:.*]]: f32, %[[PO:.*]]: bf16):
// CHECK-NEXT: %[[WO:.*]] = arith.extf %[[PO]] : bf16 to f32
// CHECK-NEXT: %[[WA:.*]] = arith.extf %[[PA]] : bf16 to f32
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[WA]], %[[PB]] : f32
// CHECK-NEXT: %[[S:.*]] = arith.addf %[[WO]], %[[M]] : f32
// CHECK-NEXT: %[[RS:.*]] = arith.truncf %[[S]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[RS]] : bf16
// CHECK: linalg.generic {{.*}} ins(%[[P]] : tensor<4x4xbf16>)
// CHECK: linalg.generic {{.*}} ins(%arg1, %arg1 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%arg2 : tensor<4x4xf32>)
// CHECK: return %{{.*}}, %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>
func.func @products(%x: tensor<4x8xf32>, %w: tensor<8x4xf32>, %acc: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %p = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %e3 = tensor.empty() : tensor<4x4xf32>
  %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<4x4xf32>) outs(%e3 : tensor<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<4x4xf32>
  %q = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0)>, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%w, %w : tensor<8x4xf32>, tensor<8x4xf32>) outs(%acc : tensor<4x4xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  return %g, %q : tensor<4x4xf32>, tensor<4x4xf32>
}

// What other ops read (attention on buffers, collectives, the host) and
// what reductions accumulate into stay fp32.
// CHECK-LABEL: func.func @other_readers
// CHECK-NOT: bf16
// CHECK: return
func.func @other_readers(%x: tensor<4x8xf32>) -> (memref<4x8xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<4x8xf32>
  %m = bufferization.to_buffer %h read_only : tensor<4x8xf32> to memref<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4xf32>) -> tensor<4xf32>
  %sum = linalg.generic {indexing_maps = [#id, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8xf32>) outs(%f : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %m, %sum : memref<4x8xf32>, tensor<4xf32>
}

// A buffer of it that only flash attention reads (as query, key or value)
// is bf16 too: the kernels stage bf16 as it is. Its output stays fp32.
// CHECK-LABEL: func.func @attention_inputs
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x16x2x16xbf16>)
// CHECK: %[[QB:.*]] = bufferization.to_buffer %[[Q]] read_only : tensor<1x16x2x16xbf16> to memref<1x16x2x16xbf16>
// CHECK: tetra.flash_attention %[[QB]], %{{.*}}, %{{.*}} into %{{.*}} {causal} : memref<1x16x2x16xbf16>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>
func.func @attention_inputs(%x: tensor<1x16x2x16xf32>, %k: memref<1x16x2x16xf32>, %v: memref<1x16x2x16xf32>) -> memref<1x16x2x16xf32> {
  %e = tensor.empty() : tensor<1x16x2x16xf32>
  %q = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x16x2x16xf32>) outs(%e : tensor<1x16x2x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<1x16x2x16xf32>
  %qb = bufferization.to_buffer %q read_only : tensor<1x16x2x16xf32> to memref<1x16x2x16xf32>
  %o = memref.alloc() : memref<1x16x2x16xf32>
  tetra.flash_attention %qb, %k, %v into %o {causal} : memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>
  return %o : memref<1x16x2x16xf32>
}

// A flash-attention output that a tensor takes over and only generics read
// is bf16: the kernel rounds it as it stores it, the reader widens it. One
// that another op reads (here the function returns the tensor) stays fp32.
// CHECK-LABEL: func.func @attention_output
// CHECK: %[[O:.*]] = memref.alloc() : memref<1x16x2x16xbf16>
// CHECK: %[[P:.*]] = memref.alloc() : memref<1x16x2x16xf32>
// CHECK: tetra.flash_attention %{{.*}}, %{{.*}}, %{{.*}} into %[[O]] {causal} : {{.*}}, memref<1x16x2x16xbf16>
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[O]] restrict writable : memref<1x16x2x16xbf16> to tensor<1x16x2x16xbf16>
// CHECK: tetra.flash_attention %{{.*}}, %{{.*}}, %{{.*}} into %[[P]] : {{.*}}, memref<1x16x2x16xf32>
// CHECK: linalg.generic {{.*}} ins(%[[T]] : tensor<1x16x2x16xbf16>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: bf16, %{{.*}}: f32):
// CHECK-NEXT: arith.extf %[[X]] : bf16 to f32
func.func @attention_output(%q: memref<1x16x2x16xf32>, %k: memref<1x16x2x16xf32>, %v: memref<1x16x2x16xf32>) -> (tensor<1x16x2x16xf32>, tensor<1x16x2x16xf32>) {
  %o = memref.alloc() : memref<1x16x2x16xf32>
  %p = memref.alloc() : memref<1x16x2x16xf32>
  tetra.flash_attention %q, %k, %v into %o {causal} : memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>
  %t = bufferization.to_tensor %o restrict writable : memref<1x16x2x16xf32> to tensor<1x16x2x16xf32>
  tetra.flash_attention %q, %k, %v into %p : memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>, memref<1x16x2x16xf32>
  %u = bufferization.to_tensor %p restrict writable : memref<1x16x2x16xf32> to tensor<1x16x2x16xf32>
  %e = tensor.empty() : tensor<1x16x2x16xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%t : tensor<1x16x2x16xf32>) outs(%e : tensor<1x16x2x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    linalg.yield %m : f32
  } -> tensor<1x16x2x16xf32>
  return %s, %u : tensor<1x16x2x16xf32>, tensor<1x16x2x16xf32>
}

// A reader may also take single elements with tensor.extract (rotary's
// backward does, at rotated indices): it reads bf16 and widens it.
// CHECK-LABEL: func.func @extracted
// CHECK: %[[H:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<8xbf16>)
// CHECK: linalg.generic
// CHECK: %[[X:.*]] = tensor.extract %[[H]][%{{.*}}] : tensor<8xbf16>
// CHECK-NEXT: %[[W:.*]] = arith.extf %[[X]] : bf16 to f32
// CHECK-NEXT: linalg.yield %[[W]] : f32
func.func @extracted(%x: tensor<8xf32>) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %h = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<8xf32>
  %e2 = tensor.empty() : tensor<8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      outs(%e2 : tensor<8xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %c7 = arith.constant 7 : index
    %j = arith.subi %c7, %i : index
    %v = tensor.extract %h[%j] : tensor<8xf32>
    linalg.yield %v : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}
