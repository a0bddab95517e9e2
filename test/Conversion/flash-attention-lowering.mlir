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
