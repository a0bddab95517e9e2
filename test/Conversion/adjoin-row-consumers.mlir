// RUN: tetra-opt %s --tetra-adjoin-row-consumers | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#r1 = affine_map<(i) -> (i)>
#s1 = affine_map<(i) -> ()>

// The cross-entropy's shape: row statistics, a sum over them (the loss), a
// mask and its count, then the gradient reading the statistics, the mask
// and the count. The mask and the count move above the statistics, the
// gradient right after them, the loss's sum after the gradient.
// CHECK-LABEL: func.func @loss_and_gradient
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<4xf32>)
// CHECK: %[[COUNT:.*]] = linalg.generic {{.*}} ins(%[[MASK]] : tensor<4xf32>)
// CHECK: %[[SCALE:.*]] = tensor.extract %[[COUNT]][]
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK-NEXT: ^bb0
// CHECK: %[[GRAD:.*]] = linalg.generic {{.*}} ins(%arg0, %[[MAX]], %[[MASK]] : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK: %[[LOSS:.*]] = linalg.generic {{.*}} ins(%[[MAX]] : tensor<4xf32>)
// CHECK: return %[[GRAD]], %[[LOSS]]
func.func @loss_and_gradient(%logits: tensor<4x8xf32>, %weights: tensor<4xf32>)
    -> (tensor<4x8xf32>, tensor<f32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e4 = tensor.empty() : tensor<4xf32>
  %f4 = linalg.fill ins(%ninf : f32) outs(%e4 : tensor<4xf32>) -> tensor<4xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%logits : tensor<4x8xf32>) outs(%f4 : tensor<4xf32>) {
  ^bb0(%x: f32, %m: f32):
    %n = arith.maximumf %m, %x : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %e0 = tensor.empty() : tensor<f32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [#r1, #s1], iterator_types = ["reduction"]}
      ins(%max : tensor<4xf32>) outs(%f0 : tensor<f32>) {
  ^bb0(%x: f32, %s: f32):
    %n = arith.addf %s, %x : f32
    linalg.yield %n : f32
  } -> tensor<f32>
  %mask = linalg.generic {indexing_maps = [#r1, #r1], iterator_types = ["parallel"]}
      ins(%weights : tensor<4xf32>) outs(%e4 : tensor<4xf32>) {
  ^bb0(%w: f32, %o: f32):
    %k = arith.cmpf ogt, %w, %zero : f32
    %one = arith.constant 1.0 : f32
    %v = arith.select %k, %one, %zero : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %count = linalg.generic {indexing_maps = [#r1, #s1], iterator_types = ["reduction"]}
      ins(%mask : tensor<4xf32>) outs(%f0 : tensor<f32>) {
  ^bb0(%x: f32, %s: f32):
    %n = arith.addf %s, %x : f32
    linalg.yield %n : f32
  } -> tensor<f32>
  %scale = tensor.extract %count[] : tensor<f32>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %grad = linalg.generic {indexing_maps = [#id, #row, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%logits, %max, %mask : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>) outs(%e48 : tensor<4x8xf32>) {
  ^bb0(%x: f32, %m: f32, %k: f32, %o: f32):
    %d = arith.subf %x, %m : f32
    %e = math.exp %d : f32
    %g = arith.mulf %e, %k : f32
    %h = arith.divf %g, %scale : f32
    linalg.yield %h : f32
  } -> tensor<4x8xf32>
  return %grad, %loss : tensor<4x8xf32>, tensor<f32>
}

// A reader that also takes a value computed from the statistics (here one
// element, read from above) stays where it is, and so does what it reads.
// CHECK-LABEL: func.func @input_from_the_statistics
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: %[[FIRST:.*]] = tensor.extract %[[MAX]]
// CHECK: %[[MASK:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<4xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg0, %[[MAX]], %[[MASK]] :
// CHECK: arith.mulf %{{.*}}, %[[FIRST]]
func.func @input_from_the_statistics(%logits: tensor<4x8xf32>, %weights: tensor<4xf32>) -> tensor<4x8xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %c0 = arith.constant 0 : index
  %e4 = tensor.empty() : tensor<4xf32>
  %f4 = linalg.fill ins(%ninf : f32) outs(%e4 : tensor<4xf32>) -> tensor<4xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%logits : tensor<4x8xf32>) outs(%f4 : tensor<4xf32>) {
  ^bb0(%x: f32, %m: f32):
    %n = arith.maximumf %m, %x : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %first = tensor.extract %max[%c0] : tensor<4xf32>
  %mask = linalg.generic {indexing_maps = [#r1, #r1], iterator_types = ["parallel"]}
      ins(%weights : tensor<4xf32>) outs(%e4 : tensor<4xf32>) {
  ^bb0(%w: f32, %o: f32):
    %v = arith.negf %w : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %out = linalg.generic {indexing_maps = [#id, #row, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%logits, %max, %mask : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>) outs(%e48 : tensor<4x8xf32>) {
  ^bb0(%x: f32, %m: f32, %k: f32, %o: f32):
    %d = arith.subf %x, %m : f32
    %e = arith.mulf %d, %first : f32
    %g = arith.addf %e, %k : f32
    linalg.yield %g : f32
  } -> tensor<4x8xf32>
  return %out : tensor<4x8xf32>
}
