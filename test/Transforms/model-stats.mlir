// RUN: tetra-opt %s --tetra-model-stats -o /dev/null | FileCheck %s
// RUN: tetra-opt %s --tetra-model-stats="seq-len=8" -o /dev/null | FileCheck %s --check-prefix=SEQ8

// Hand-counted: params 10*4 + 4*4 + 8*4 = 88; per token at S = 16:
// linears 2*4*4 + 2*4*8 = 96, causal attention 4 * 2 heads * 2 dims * 16/2 = 128,
// recurrent body (one 4x4 linear = 32) times mean_iterations 3 = 96.
// CHECK: parameters: 88
// CHECK-NEXT: parameter-tensors: 3
// CHECK-NEXT: layers: 2
// CHECK-NEXT: seq-len: 16
// CHECK-NEXT: forward-flops-per-token: 320
// At S = 8 only attention changes: 4*2*2*4 = 64.
// SEQ8: seq-len: 8
// SEQ8-NEXT: forward-flops-per-token: 256
module attributes {tetra.model = #tetra.model<family = "llama", layers = 2, context_length = 16>} {
  tetra.param @emb : tensor<10x4xf32> init #tetra.init<normal, std = 0.02>
  tetra.param @w : tensor<4x4xf32> init #tetra.init<normal, std = 0.02>
  tetra.param @up : tensor<8x4xf32> init #tetra.init<normal, std = 0.02>
  func.func @forward(%ids: tensor<?x?xi32>, %r: i64) -> tensor<?x?x8xf32> {
    %e = tetra.get_param @emb : tensor<10x4xf32>
    %w = tetra.get_param @w : tensor<4x4xf32>
    %u = tetra.get_param @up : tensor<8x4xf32>
    %x = tetra.embedding %e[%ids] : tensor<10x4xf32>, tensor<?x?xi32>
    %h = tetra.linear %x, %w : tensor<?x?x4xf32>, tensor<4x4xf32>
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %b = tensor.dim %ids, %c0 : tensor<?x?xi32>
    %s = tensor.dim %ids, %c1 : tensor<?x?xi32>
    %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 2] : tensor<?x?x4xf32> into tensor<?x?x2x2xf32>
    %a = tetra.attention %q, %q, %q {causal} : tensor<?x?x2x2xf32>, tensor<?x?x2x2xf32>, tensor<?x?x2x2xf32>
    %m = tensor.collapse_shape %a [[0], [1], [2, 3]] : tensor<?x?x2x2xf32> into tensor<?x?x4xf32>
    %rec = tetra.recurrent %r, %m, %m {mode = #tetra.injection<add>, mean_iterations = 3} : i64, tensor<?x?x4xf32>, tensor<?x?x4xf32> {
    ^bb0(%in: tensor<?x?x4xf32>):
      %y = tetra.linear %in, %w : tensor<?x?x4xf32>, tensor<4x4xf32>
      tetra.yield %y : tensor<?x?x4xf32>
    }
    %logits = tetra.linear %rec, %u : tensor<?x?x4xf32>, tensor<8x4xf32>
    return %logits : tensor<?x?x8xf32>
  }
}
