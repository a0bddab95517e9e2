// convert-tetra-to-linalg{flash-attention}: attention the fused kernel can
// take becomes tetra.flash_attention on read-only buffers of its operands,
// into a fresh buffer the result tensor takes over; the rest keeps the
// score, softmax and value lowering.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true | FileCheck %s

// CHECK-LABEL: func.func @fused
// CHECK: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x64x4x128xf32> to memref<2x64x4x128xf32>
// CHECK: %[[K:.*]] = bufferization.to_buffer %arg1 read_only
// CHECK: %[[V:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK: %[[O:.*]] = memref.alloc() : memref<2x64x4x128xf32>
// CHECK: tetra.flash_attention %[[Q]], %[[K]], %[[V]] into %[[O]] {causal, window = 32 : i64}
// CHECK: bufferization.to_tensor %[[O]] restrict writable
// CHECK-NOT: linalg.
func.func @fused(%q: tensor<2x64x4x128xf32>, %k: tensor<2x64x2x128xf32>, %v: tensor<2x64x2x128xf32>) -> tensor<2x64x4x128xf32> {
  %o = tetra.attention %q, %k, %v {causal, window = 32} : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
  return %o : tensor<2x64x4x128xf32>
}

// Head dims past 128 would not fit the key and value tiles in shared memory.
// CHECK-LABEL: func.func @wide_heads
// CHECK-NOT: tetra.flash_attention
// CHECK: linalg.
func.func @wide_heads(%q: tensor<1x16x2x256xf32>, %k: tensor<1x16x2x256xf32>, %v: tensor<1x16x2x256xf32>) -> tensor<1x16x2x256xf32> {
  %o = tetra.attention %q, %k, %v {causal} : tensor<1x16x2x256xf32>, tensor<1x16x2x256xf32>, tensor<1x16x2x256xf32>
  return %o : tensor<1x16x2x256xf32>
}

// Fewer keys than queries (queries before the first key) stay unfused.
// CHECK-LABEL: func.func @short_keys
// CHECK-NOT: tetra.flash_attention
// CHECK: linalg.
func.func @short_keys(%q: tensor<1x32x2x16xf32>, %k: tensor<1x16x2x16xf32>, %v: tensor<1x16x2x16xf32>) -> tensor<1x32x2x16xf32> {
  %o = tetra.attention %q, %k, %v {causal} : tensor<1x32x2x16xf32>, tensor<1x16x2x16xf32>, tensor<1x16x2x16xf32>
  return %o : tensor<1x32x2x16xf32>
}

// A head_dim that is not a multiple of 16 does not fill the fragments.
// CHECK-LABEL: func.func @odd_heads
// CHECK-NOT: tetra.flash_attention
// CHECK: linalg.
func.func @odd_heads(%q: tensor<1x16x2x24xf32>, %k: tensor<1x16x2x24xf32>, %v: tensor<1x16x2x24xf32>) -> tensor<1x16x2x24xf32> {
  %o = tetra.attention %q, %k, %v : tensor<1x16x2x24xf32>, tensor<1x16x2x24xf32>, tensor<1x16x2x24xf32>
  return %o : tensor<1x16x2x24xf32>
}

// The gradients: the forward kernel again, now writing the log-sum-exp,
// delta = rowsum(grad * output) as one reduction, then the backward on
// buffers.
// CHECK-LABEL: func.func @fused_grad
// CHECK-DAG: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x64x4x128xf32> to memref<2x64x4x128xf32>
// CHECK-DAG: %[[K:.*]] = bufferization.to_buffer %arg1 read_only
// CHECK-DAG: %[[V:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK: %[[O:.*]] = memref.alloc() : memref<2x64x4x128xf32>
// CHECK: %[[L:.*]] = memref.alloc() : memref<2x64x4xf32>
// CHECK: tetra.flash_attention %[[Q]], %[[K]], %[[V]] into %[[O]] logsumexp %[[L]] {causal}
// CHECK: %[[OT:.*]] = bufferization.to_tensor %[[O]] restrict writable
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%arg3, %[[OT]] : {{.*}}) outs({{.*}} : tensor<2x64x4xf32>)
// CHECK: %[[DO:.*]] = bufferization.to_buffer %arg3 read_only
// CHECK: %[[DM:.*]] = bufferization.to_buffer %[[D]] read_only
// CHECK: tetra.flash_attention_grad %[[Q]], %[[K]], %[[V]], %[[DO]], %[[L]], %[[DM]] into %{{.*}}, %{{.*}}, %{{.*}} {causal}
// CHECK-COUNT-3: bufferization.to_tensor {{.*}} restrict writable
func.func @fused_grad(%q: tensor<2x64x4x128xf32>, %k: tensor<2x64x2x128xf32>, %v: tensor<2x64x2x128xf32>, %do: tensor<2x64x4x128xf32>) -> (tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>) {
  %dq, %dk, %dv = tetra.attention_grad %q, %k, %v, %do {causal} : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>
  return %dq, %dk, %dv : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
}

// Attention and its gradients in one function share the forward kernel: it
// writes the log-sum-exp next to the output, and the backward takes both
// instead of running the forward again.
// CHECK-LABEL: func.func @forward_and_grad
// CHECK-DAG: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x64x4x128xf32> to memref<2x64x4x128xf32>
// CHECK-DAG: %[[K:.*]] = bufferization.to_buffer %arg1 read_only
// CHECK-DAG: %[[V:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK: %[[O:.*]] = memref.alloc() : memref<2x64x4x128xf32>
// CHECK: %[[L:.*]] = memref.alloc() : memref<2x64x4xf32>
// CHECK: tetra.flash_attention %[[Q]], %[[K]], %[[V]] into %[[O]] logsumexp %[[L]] {causal, window = 32 : i64}
// CHECK: %[[OT:.*]] = bufferization.to_tensor %[[O]] restrict writable
// The backward's reads of q, k and v are buffers taken where it runs.
// CHECK: %[[Q2:.*]] = bufferization.to_buffer %arg0 read_only
// CHECK-NOT: tetra.flash_attention %
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%arg3, %[[OT]] : {{.*}}) outs({{.*}} : tensor<2x64x4xf32>)
// CHECK-NOT: tetra.flash_attention %
// CHECK: tetra.flash_attention_grad %[[Q2]], %{{.*}}, %{{.*}}, %{{.*}}, %[[L]], %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} {causal, window = 32 : i64}
// CHECK: return %[[OT]],
func.func @forward_and_grad(%q: tensor<2x64x4x128xf32>, %k: tensor<2x64x2x128xf32>, %v: tensor<2x64x2x128xf32>, %do: tensor<2x64x4x128xf32>) -> (tensor<2x64x4x128xf32>, tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>) {
  %o = tetra.attention %q, %k, %v {causal, window = 32 : i64} : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
  %dq, %dk, %dv = tetra.attention_grad %q, %k, %v, %do {causal, window = 32 : i64} : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>
  return %o, %dq, %dk, %dv : tensor<2x64x4x128xf32>, tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
}

// A forward of other masks is not the one the gradients are taken of: it
// stays as it is, and the backward runs its own forward.
// CHECK-LABEL: func.func @other_forward
// CHECK: tetra.flash_attention %{{.*}} into %{{.*}} : memref
// CHECK: tetra.flash_attention %{{.*}} into %{{.*}} logsumexp %{{.*}} {causal}
// CHECK: tetra.flash_attention_grad
func.func @other_forward(%q: tensor<2x64x4x128xf32>, %k: tensor<2x64x2x128xf32>, %v: tensor<2x64x2x128xf32>, %do: tensor<2x64x4x128xf32>) -> (tensor<2x64x4x128xf32>, tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>) {
  %o = tetra.attention %q, %k, %v : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
  %dq, %dk, %dv = tetra.attention_grad %q, %k, %v, %do {causal} : tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>
  return %o, %dq, %dk, %dv : tensor<2x64x4x128xf32>, tensor<2x64x4x128xf32>, tensor<2x64x2x128xf32>, tensor<2x64x2x128xf32>
}
