// RUN: tetra-opt %s | tetra-opt | FileCheck %s
// RUN: tetra-opt %s --mlir-print-op-generic | tetra-opt | FileCheck %s

// Every model-level op parses, verifies and prints back the same.

module attributes {tetra.model = #tetra.model<family = "llama", layers = 1, context_length = 64>} {
  // CHECK: tetra.param @model.embed_tokens.weight : tensor<32x16xf32> init <normal, std = 2.000000e-02>
  tetra.param @model.embed_tokens.weight : tensor<32x16xf32> init #tetra.init<normal, std = 0.02>
  // CHECK: tetra.param @model.layers.0.mlp.down_proj.weight : tensor<16x24xf32> init <trunc_normal, std = 1.000000e-02> layout <[x, y], flat = [z]>
  tetra.param @model.layers.0.mlp.down_proj.weight : tensor<16x24xf32> init #tetra.init<trunc_normal, std = 0.01> layout #tetra.layout<[x, y], flat = [z]>
  // CHECK: tetra.param @norm : tensor<16xf32> init <ones>
  tetra.param @norm : tensor<16xf32> init #tetra.init<ones>
  // CHECK: tetra.param @bias : tensor<16xf32> init <zeros>
  tetra.param @bias : tensor<16xf32> init #tetra.init<zeros>
  tetra.param @gpt2.c_fc : tensor<16x24xf32> init #tetra.init<zeros>
  tetra.param @adapter : tensor<16x32xf32> init #tetra.init<zeros>
  tetra.param @abacus : tensor<110x16xf32> init #tetra.init<zeros>

  // CHECK-LABEL: func.func @model_ops
  func.func @model_ops(%ids: tensor<?x?xi32>, %r: i64) -> tensor<?x?x32xf32> {
    // CHECK: tetra.get_param @model.embed_tokens.weight : tensor<32x16xf32>
    %table = tetra.get_param @model.embed_tokens.weight : tensor<32x16xf32>
    %down = tetra.get_param @model.layers.0.mlp.down_proj.weight : tensor<16x24xf32>
    %w = tetra.get_param @norm : tensor<16xf32>
    %b = tetra.get_param @bias : tensor<16xf32>
    %fc = tetra.get_param @gpt2.c_fc : tensor<16x24xf32>
    %ad = tetra.get_param @adapter : tensor<16x32xf32>
    %ab = tetra.get_param @abacus : tensor<110x16xf32>
    // CHECK: tetra.embedding %{{.*}}[%{{.*}}] : tensor<32x16xf32>, tensor<?x?xi32>
    %x = tetra.embedding %table[%ids] : tensor<32x16xf32>, tensor<?x?xi32>
    // CHECK: tetra.positions %{{.*}} {offset = 3 : i64} : tensor<?x?xi32>
    %pos = tetra.positions %ids {offset = 3} : tensor<?x?xi32>
    // CHECK: tetra.abacus_positions %{{.*}} {first_digit = 3 : i64, last_digit = 12 : i64} : tensor<?x?xi32>
    %apos = tetra.abacus_positions %ids {first_digit = 3, last_digit = 12} : tensor<?x?xi32>
    // CHECK: tetra.abacus_embedding %{{.*}}[%{{.*}}] offset %{{.*}} : i64 : tensor<110x16xf32>, tensor<?x?xi32>
    %ae = tetra.abacus_embedding %ab[%apos] offset %r : i64 : tensor<110x16xf32>, tensor<?x?xi32>
    // CHECK: tetra.add %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<?x?x16xf32>
    %x1 = tetra.add %x, %ae : tensor<?x?x16xf32>, tensor<?x?x16xf32>
    // CHECK: tetra.add %{{.*}}, %{{.*}} : tensor<?x?x16xf32>, tensor<16xf32>
    %x2 = tetra.add %x1, %b : tensor<?x?x16xf32>, tensor<16xf32>
    // CHECK: tetra.scale %{{.*}} {factor = 4.000000e+00 : f64} : tensor<?x?x16xf32>
    %x3 = tetra.scale %x2 {factor = 4.0 : f64} : tensor<?x?x16xf32>
    // CHECK: tetra.rmsnorm %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64, unit_offset} : tensor<?x?x16xf32>, tensor<16xf32>
    %n1 = tetra.rmsnorm %x3, %w {eps = 1.0e-6 : f64, unit_offset} : tensor<?x?x16xf32>, tensor<16xf32>
    // CHECK: tetra.layernorm %{{.*}}, %{{.*}} bias %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>
    %n2 = tetra.layernorm %n1, %w bias %b {eps = 1.0e-5 : f64} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>
    // CHECK: tetra.linear %{{.*}}, %{{.*}} {weight_in_out} : tensor<?x?x16xf32>, tensor<16x24xf32>
    %up = tetra.linear %n2, %fc {weight_in_out} : tensor<?x?x16xf32>, tensor<16x24xf32>
    // CHECK: tetra.gelu %{{.*}} {approximate = #tetra.gelu_approx<tanh>} : tensor<?x?x24xf32>
    %g = tetra.gelu %up {approximate = #tetra.gelu_approx<tanh>} : tensor<?x?x24xf32>
    // CHECK: tetra.silu %{{.*}} : tensor<?x?x24xf32>
    %s = tetra.silu %g : tensor<?x?x24xf32>
    // CHECK: tetra.glu %{{.*}}, %{{.*}} {activation = #tetra.glu_activation<silu>} : tensor<?x?x24xf32>
    %glu = tetra.glu %s, %up {activation = #tetra.glu_activation<silu>} : tensor<?x?x24xf32>
    // CHECK: tetra.linear %{{.*}}, %{{.*}} {transposed} : tensor<?x?x24xf32>, tensor<16x24xf32>
    %dn = tetra.linear %glu, %down {transposed} : tensor<?x?x24xf32>, tensor<16x24xf32>
    // CHECK: tetra.linear %{{.*}}, %{{.*}} bias %{{.*}} : tensor<?x?x16xf32>, tensor<32x16xf32>, tensor<32xf32>
    %zero32 = arith.constant dense<0.0> : tensor<32xf32>
    %logits0 = tetra.linear %dn, %table bias %zero32 : tensor<?x?x16xf32>, tensor<32x16xf32>, tensor<32xf32>

    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %bsz = tensor.dim %ids, %c0 : tensor<?x?xi32>
    %seq = tensor.dim %ids, %c1 : tensor<?x?xi32>
    %q = tensor.expand_shape %dn [[0], [1], [2, 3]] output_shape [%bsz, %seq, 4, 4] : tensor<?x?x16xf32> into tensor<?x?x4x4xf32>
    %kv = tensor.extract_slice %q[0, 0, 0, 0] [%bsz, %seq, 2, 4] [1, 1, 1, 1] : tensor<?x?x4x4xf32> to tensor<?x?x2x4xf32>
    // CHECK: tetra.rotary %{{.*}} {base = 1.000000e+04 : f64, fraction = 5.000000e-01 : f64, style = #tetra.rotary_style<interleaved>} : tensor<?x?x4x4xf32>
    %qr = tetra.rotary %q {base = 10000.0 : f64, fraction = 0.5 : f64, style = #tetra.rotary_style<interleaved>} : tensor<?x?x4x4xf32>
    // CHECK: tetra.rotary %{{.*}} positions %{{.*}} : tensor<?x?xi32> {base = 5.000000e+05 : f64} : tensor<?x?x2x4xf32>
    %kr = tetra.rotary %kv positions %pos : tensor<?x?xi32> {base = 500000.0 : f64} : tensor<?x?x2x4xf32>
    // CHECK: tetra.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, loki = #tetra.loki<dim_fraction = 2.500000e-01, topk_fraction = 1.250000e-01>, window = 8 : i64} : tensor<?x?x4x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>
    %att = tetra.attention %qr, %kr, %kv {causal, window = 8, loki = #tetra.loki<dim_fraction = 0.25, topk_fraction = 0.125>} : tensor<?x?x4x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>
    // CHECK: tetra.attention %{{.*}} {scale = 5.000000e-01 : f64}
    %att2 = tetra.attention %qr, %kr, %kv {scale = 0.5 : f64} : tensor<?x?x4x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>

    // CHECK: tetra.recurrent %{{.*}}, %{{.*}}, %{{.*}} adapter %{{.*}} {grad_iterations = 4 : i64, mean_iterations = 32 : i64, mode = #tetra.injection<adapter>} : i64, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16x32xf32> {
    // CHECK: ^bb0(%{{.*}}: tensor<?x?x16xf32>):
    // CHECK: tetra.yield %{{.*}} : tensor<?x?x16xf32>
    %state = tetra.recurrent %r, %dn, %x adapter %ad {mode = #tetra.injection<adapter>, mean_iterations = 32, grad_iterations = 4} : i64, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16x32xf32> {
    ^bb0(%in: tensor<?x?x16xf32>):
      %y = tetra.rmsnorm %in, %w {eps = 1.0e-6 : f64} : tensor<?x?x16xf32>, tensor<16xf32>
      tetra.yield %y : tensor<?x?x16xf32>
    }
    // CHECK: tetra.recurrent {{.*}}mode = #tetra.injection<add>
    %state2 = tetra.recurrent %r, %state, %x {mode = #tetra.injection<add>, mean_iterations = 16} : i64, tensor<?x?x16xf32>, tensor<?x?x16xf32> {
    ^bb0(%in: tensor<?x?x16xf32>):
      tetra.yield %in : tensor<?x?x16xf32>
    }
    %logits = tetra.linear %state2, %table : tensor<?x?x16xf32>, tensor<32x16xf32>
    // CHECK: tetra.cross_entropy %{{.*}}, %{{.*}} {goldfish = #tetra.goldfish<hash, k = 4, h = 13>} : tensor<?x?x32xf32>, tensor<?x?xi32>
    %loss = tetra.cross_entropy %logits, %ids {goldfish = #tetra.goldfish<hash, k = 4, h = 13>} : tensor<?x?x32xf32>, tensor<?x?xi32>
    // CHECK: tetra.cross_entropy {{.*}}goldfish = #tetra.goldfish<static, k = 3, h = 13, start = 1>, ignore_index = 0 : i64
    %loss2 = tetra.cross_entropy %logits, %ids {ignore_index = 0, goldfish = #tetra.goldfish<static, k = 3, start = 1>} : tensor<?x?x32xf32>, tensor<?x?xi32>
    // CHECK: #tetra.goldfish<table, k = 4, h = 13, table = "mask.table">
    %loss3 = tetra.cross_entropy %logits, %ids {goldfish = #tetra.goldfish<table, table = "mask.table">} : tensor<?x?x32xf32>, tensor<?x?xi32>
    return %logits : tensor<?x?x32xf32>
  }

  // CHECK-LABEL: func.func @optimizer
  func.func @optimizer(%p: tensor<16xf32>, %g: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<16xf32>, %lr: f32, %step: i64) -> tensor<16xf32> {
    // CHECK: tetra.adamw %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} lr %{{.*}} step %{{.*}} {weight_decay = 0.000000e+00 : f64} : tensor<16xf32>
    %p2, %m2, %v2 = tetra.adamw %p, %g, %m, %v lr %lr step %step {weight_decay = 0.0 : f64} : tensor<16xf32>
    return %p2 : tensor<16xf32>
  }
}
