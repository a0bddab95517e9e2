// RUN: tetra-opt %s -split-input-file -verify-diagnostics

// Every message a model-level op's verifier or type inference can give.

// expected-error @+1 {{'tetra.param' op parameter 'p' must have a floating-point element type, got 'i32'}}
tetra.param @p : tensor<4xi32> init #tetra.init<zeros>

// -----

// expected-error @+1 {{'tetra.param' op layout of 'p' has 1 dimensions but the parameter has rank 2}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[x]>

// -----

func.func @missing_param() {
  // expected-error @+1 {{'tetra.get_param' op 'nope' does not name a tetra.param}}
  %0 = tetra.get_param @nope : tensor<4xf32>
  return
}

// -----

tetra.param @p : tensor<4xf32> init #tetra.init<zeros>
func.func @param_type() {
  // expected-error @+1 {{'tetra.get_param' op type 'tensor<8xf32>' does not match parameter 'p' of type 'tensor<4xf32>'}}
  %0 = tetra.get_param @p : tensor<8xf32>
  return
}

// -----

func.func @embedding_rank(%t: tensor<4xf32>, %ids: tensor<2x3xi32>) {
  // expected-error @+1 {{'tetra.embedding' op table must have rank 2 [rows, features], got rank 1}}
  %0 = tetra.embedding %t[%ids] : tensor<4xf32>, tensor<2x3xi32>
  return
}

// -----

func.func @positions_rank(%ids: tensor<6xi32>) {
  // expected-error @+1 {{'tetra.positions' op indices must have rank 2 [batch, sequence], got rank 1}}
  %0 = tetra.positions %ids : tensor<6xi32>
  return
}

// -----

func.func @positions_offset(%ids: tensor<2x3xi32>) {
  // expected-error @+1 {{'tetra.positions' op offset must be non-negative, got -1}}
  %0 = tetra.positions %ids {offset = -1} : tensor<2x3xi32>
  return
}

// -----

func.func @abacus_digits(%ids: tensor<2x3xi32>) {
  // expected-error @+1 {{'tetra.abacus_positions' op digit ids must satisfy 0 <= first_digit <= last_digit, got 9..0}}
  %0 = tetra.abacus_positions %ids {first_digit = 9, last_digit = 0} : tensor<2x3xi32>
  return
}

// -----

func.func @abacus_offset(%t: tensor<10x4xf32>, %p: tensor<2x3xi32>) {
  // expected-error @+1 {{'tetra.abacus_embedding' op max_offset must be non-negative, got -5}}
  %0 = tetra.abacus_embedding %t[%p] {max_offset = -5} : tensor<10x4xf32>, tensor<2x3xi32>
  return
}

// -----

func.func @rotary_rank(%x: tensor<2x3x8xf32>) {
  // expected-error @+1 {{'tetra.rotary' op input must have rank 4 [batch, sequence, heads, head_dim], got rank 3}}
  %0 = tetra.rotary %x {base = 10000.0 : f64} : tensor<2x3x8xf32>
  return
}

// -----

func.func @rotary_dynamic(%x: tensor<2x3x4x?xf32>) {
  // expected-error @+1 {{'tetra.rotary' op head_dim must be static}}
  %0 = tetra.rotary %x {base = 10000.0 : f64} : tensor<2x3x4x?xf32>
  return
}

// -----

func.func @rotary_fraction(%x: tensor<2x3x4x8xf32>) {
  // expected-error @+1 {{'tetra.rotary' op fraction must be in (0, 1], got 1.5}}
  %0 = tetra.rotary %x {base = 10000.0 : f64, fraction = 1.5 : f64} : tensor<2x3x4x8xf32>
  return
}

// -----

func.func @rotary_base(%x: tensor<2x3x4x8xf32>) {
  // expected-error @+1 {{'tetra.rotary' op base must be positive, got 0}}
  %0 = tetra.rotary %x {base = 0.0 : f64} : tensor<2x3x4x8xf32>
  return
}

// -----

func.func @rotary_odd(%x: tensor<2x3x4x12xf32>) {
  // expected-error @+1 {{'tetra.rotary' op fraction 0.25 of head_dim 12 must give a positive even number of rotated channels, got 3}}
  %0 = tetra.rotary %x {base = 10000.0 : f64, fraction = 0.25 : f64} : tensor<2x3x4x12xf32>
  return
}

// -----

func.func @rotary_positions(%x: tensor<2x3x4x8xf32>, %p: tensor<2x5xi32>) {
  // expected-error @+1 {{'tetra.rotary' op positions of shape 2x5 do not match [batch, sequence] of the input 2x3x4x8}}
  %0 = tetra.rotary %x positions %p : tensor<2x5xi32> {base = 10000.0 : f64} : tensor<2x3x4x8xf32>
  return
}

// -----

func.func @linear_rank0(%x: tensor<f32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{'tetra.linear' op input must have rank >= 1}}
  %0 = tetra.linear %x, %w : tensor<f32>, tensor<4x4xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'tetra.linear' op weight must have rank 2, got rank 1}}
  %0 = tetra.linear %x, %w : tensor<2x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @linear_dtype(%x: tensor<2x4xf32>, %w: tensor<4x4xbf16>) {
  // expected-error @+1 {{'tetra.linear' op input and weight element types differ}}
  %0 = tetra.linear %x, %w : tensor<2x4xf32>, tensor<4x4xbf16>
  return
}

// -----

func.func @linear_features(%x: tensor<2x4xf32>, %w: tensor<8x6xf32>) {
  // expected-error @+1 {{'tetra.linear' op input features 4 do not match the weight's input features 6 (weight 8x6, stored [out, in])}}
  %0 = tetra.linear %x, %w : tensor<2x4xf32>, tensor<8x6xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'tetra.linear' op bias of shape 4 does not match the 8 output features}}
  %0 = tetra.linear %x, %w bias %b : tensor<2x4xf32>, tensor<8x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @rmsnorm_eps(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'tetra.rmsnorm' op eps must be positive, got 0}}
  %0 = tetra.rmsnorm %x, %w {eps = 0.0 : f64} : tensor<2x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @rmsnorm_weight(%x: tensor<2x4xf32>, %w: tensor<5xf32>) {
  // expected-error @+1 {{'tetra.rmsnorm' op weight of shape 5 does not match the 4 features of the input}}
  %0 = tetra.rmsnorm %x, %w {eps = 1.0e-6 : f64} : tensor<2x4xf32>, tensor<5xf32>
  return
}

// -----

func.func @layernorm_bias(%x: tensor<2x4xf32>, %w: tensor<4xf32>, %b: tensor<4x1xf32>) {
  // expected-error @+1 {{'tetra.layernorm' op bias of shape 4x1 does not match the 4 features of the input}}
  %0 = tetra.layernorm %x, %w bias %b {eps = 1.0e-5 : f64} : tensor<2x4xf32>, tensor<4xf32>, tensor<4x1xf32>
  return
}

// -----

func.func @add_shape(%a: tensor<2x4xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'tetra.add' op rhs shape 3 must equal lhs shape 2x4 or a suffix of it}}
  %0 = tetra.add %a, %b : tensor<2x4xf32>, tensor<3xf32>
  return
}

// -----

func.func @add_dtype(%a: tensor<2x4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'tetra.add' op lhs and rhs element types differ}}
  %0 = tetra.add %a, %b : tensor<2x4xf32>, tensor<4xf16>
  return
}

// -----

func.func @attention_rank(%q: tensor<2x3x8xf32>, %k: tensor<2x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op query must have rank 4 [batch, sequence, heads, head_dim], got rank 3}}
  %0 = tetra.attention %q, %k, %k : tensor<2x3x8xf32>, tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>
  return
}

// -----

func.func @attention_kv(%q: tensor<2x3x4x2xf32>, %k: tensor<2x3x4x2xf32>, %v: tensor<2x5x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op key shape 2x3x4x2 differs from value shape 2x5x4x2}}
  %0 = tetra.attention %q, %k, %v : tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>, tensor<2x5x4x2xf32>
  return
}

// -----

func.func @attention_batch(%q: tensor<2x3x4x2xf32>, %k: tensor<1x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op query batch 2 differs from key batch 1}}
  %0 = tetra.attention %q, %k, %k : tensor<2x3x4x2xf32>, tensor<1x3x4x2xf32>, tensor<1x3x4x2xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<2x3x4x2xf32>, %k: tensor<2x3x4x4xf32>) {
  // expected-error @+1 {{'tetra.attention' op query head_dim 2 differs from key head_dim 4}}
  %0 = tetra.attention %q, %k, %k : tensor<2x3x4x2xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<2x3x4x2xf32>, %k: tensor<2x3x3x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op query heads (4) must be a multiple of key/value heads (3)}}
  %0 = tetra.attention %q, %k, %k : tensor<2x3x4x2xf32>, tensor<2x3x3x2xf32>, tensor<2x3x3x2xf32>
  return
}

// -----

func.func @attention_window_causal(%q: tensor<2x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op a sliding window needs a causal mask}}
  %0 = tetra.attention %q, %q, %q {window = 2} : tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>
  return
}

// -----

func.func @attention_window(%q: tensor<2x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op window must be at least 1, got 0}}
  %0 = tetra.attention %q, %q, %q {causal, window = 0} : tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<2x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op scale must be positive, got -1}}
  %0 = tetra.attention %q, %q, %q {scale = -1.0 : f64} : tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>
  return
}

// -----

func.func @attention_loki(%q: tensor<2x3x4x2xf32>) {
  // expected-error @+1 {{'tetra.attention' op Loki dim_fraction 0.25 keeps no channel of head_dim 2}}
  %0 = tetra.attention %q, %q, %q {causal, loki = #tetra.loki<dim_fraction = 0.25, topk_fraction = 0.5>} : tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>, tensor<2x3x4x2xf32>
  return
}

// -----

func.func @cross_entropy_shape(%l: tensor<2x3x10xf32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'tetra.cross_entropy' op logits of shape 2x3x10 must be the targets' shape 2x4 plus a vocabulary dimension}}
  %0 = tetra.cross_entropy %l, %t : tensor<2x3x10xf32>, tensor<2x4xi32>
  return
}

// -----

func.func @recurrent_arg(%r: i64, %s: tensor<2x4xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op body must take one argument of the state type 'tensor<2x4xf32>'}}
  %0 = tetra.recurrent %r, %s, %s {mode = #tetra.injection<add>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x4xf32> {
  ^bb0(%x: tensor<2x4xf32>, %y: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @recurrent_yield(%r: i64, %s: tensor<2x4xf32>, %o: tensor<4x2xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op body must yield one value of the state type 'tensor<2x4xf32>'}}
  %0 = tetra.recurrent %r, %s, %s {mode = #tetra.injection<add>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x4xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %o : tensor<4x2xf32>
  }
  return
}

// -----

func.func @recurrent_mean(%r: i64, %s: tensor<2x4xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op mean_iterations and grad_iterations must be at least 1}}
  %0 = tetra.recurrent %r, %s, %s {mode = #tetra.injection<add>, mean_iterations = 0} : i64, tensor<2x4xf32>, tensor<2x4xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @recurrent_add_adapter(%r: i64, %s: tensor<2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op injection 'add' takes no adapter weight}}
  %0 = tetra.recurrent %r, %s, %s adapter %w {mode = #tetra.injection<add>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x8xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @recurrent_add_types(%r: i64, %s: tensor<2x4xf32>, %e: tensor<2x8xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op injection 'add' needs the injected value's type 'tensor<2x8xf32>' to equal the state type 'tensor<2x4xf32>'}}
  %0 = tetra.recurrent %r, %s, %e {mode = #tetra.injection<add>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x8xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @recurrent_no_adapter(%r: i64, %s: tensor<2x4xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op injection 'adapter' needs an adapter weight}}
  %0 = tetra.recurrent %r, %s, %s {mode = #tetra.injection<adapter>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x4xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @recurrent_adapter_shape(%r: i64, %s: tensor<2x4xf32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{'tetra.recurrent' op adapter weight of shape 4x4 must be [H, 2H] for state 2x4 and injected value 2x4}}
  %0 = tetra.recurrent %r, %s, %s adapter %w {mode = #tetra.injection<adapter>, mean_iterations = 4} : i64, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x4xf32> {
  ^bb0(%x: tensor<2x4xf32>):
    tetra.yield %x : tensor<2x4xf32>
  }
  return
}

// -----

func.func @adamw_beta(%p: tensor<4xf32>, %lr: f32, %t: i64) {
  // expected-error @+1 {{'tetra.adamw' op beta1 and beta2 must be in [0, 1), got 1 and 0.95}}
  %0:3 = tetra.adamw %p, %p, %p, %p lr %lr step %t {beta1 = 1.0 : f64} : tensor<4xf32>
  return
}

// -----

func.func @adamw_eps(%p: tensor<4xf32>, %lr: f32, %t: i64) {
  // expected-error @+1 {{'tetra.adamw' op eps must be positive, got 0}}
  %0:3 = tetra.adamw %p, %p, %p, %p lr %lr step %t {eps = 0.0 : f64} : tensor<4xf32>
  return
}

// -----

func.func @adamw_decay(%p: tensor<4xf32>, %lr: f32, %t: i64) {
  // expected-error @+1 {{'tetra.adamw' op weight_decay must be non-negative, got -0.1}}
  %0:3 = tetra.adamw %p, %p, %p, %p lr %lr step %t {weight_decay = -0.1 : f64} : tensor<4xf32>
  return
}

// -----

func.func @flash_lse_shape(%q: memref<1x64x2x16xf32>, %k: memref<1x64x1x16xf32>, %o: memref<1x64x2x16xf32>, %l: memref<1x2x64xf32>) {
  // expected-error @+1 {{'tetra.flash_attention' op row operand shape 1x2x64 is not [batch, queries, heads] 1x64x2}}
  tetra.flash_attention %q, %k, %k into %o logsumexp %l : memref<1x64x2x16xf32>, memref<1x64x1x16xf32>, memref<1x64x1x16xf32>, memref<1x64x2x16xf32>, memref<1x2x64xf32>
  return
}

// -----

func.func @flash_grad_keys(%q: memref<1x64x2x16xf32>, %k: memref<1x32x1x16xf32>, %l: memref<1x64x2xf32>) {
  // expected-error @+1 {{'tetra.flash_attention_grad' op needs at least as many keys (32) as queries (64)}}
  tetra.flash_attention_grad %q, %k, %k, %q, %l, %l into %q, %k, %k {causal} : memref<1x64x2x16xf32>, memref<1x32x1x16xf32>, memref<1x32x1x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2xf32>, memref<1x64x2xf32>, memref<1x64x2x16xf32>, memref<1x32x1x16xf32>, memref<1x32x1x16xf32>
  return
}

// -----

func.func @flash_grad_value(%q: memref<1x64x2x16xf32>, %k: memref<1x64x1x16xf32>, %dv: memref<1x64x2x16xf32>, %l: memref<1x64x2xf32>) {
  // expected-error @+1 {{'tetra.flash_attention_grad' op operand shape 1x64x2x16 differs from key shape 1x64x1x16}}
  tetra.flash_attention_grad %q, %k, %k, %q, %l, %l into %q, %k, %dv : memref<1x64x2x16xf32>, memref<1x64x1x16xf32>, memref<1x64x1x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2xf32>, memref<1x64x2xf32>, memref<1x64x2x16xf32>, memref<1x64x1x16xf32>, memref<1x64x2x16xf32>
  return
}
