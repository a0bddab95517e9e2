// FlashAttention-2's backward (the query-gradient and key/value-gradient
// kernels, mma.sync and MFMA), run by the GPU emulator, against
// tetra.attention_grad's CPU lowering (probabilities, dP, dS and five
// GEMMs, all in f32) on the same inputs: 160 queries and keys (three tiles
// each way), two query heads on one key/value head (GQA: the key/value
// kernel sums both heads), head_dim 16, sharp softmax rows (scores up to
// ~36). Causal, causal with a window of 40, unmasked, and 16 queries after
// 144 earlier keys (causal, so the key/value kernel's query range starts
// past the first tile). bf16 operands: max |gpu - cpu| <= 3e-2 max |cpu|
// for each of dQ, dK, dV.
//
// RUN: tetra-opt %s --convert-tetra-to-linalg --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so > %t.cpu
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels=target=nvvm --tetra-emulate-gpu-launches=warp-size=32 --arith-expand=include-bf16=true --convert-vector-to-llvm \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   --tetra-emulate-gpu-trampolines \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so > %t.gpu
// RUN: %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.gpu 3e-2 | FileCheck %s
// The MFMA kernels (wave64), the same way.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels=target=rocdl --tetra-emulate-gpu-launches=warp-size=64 --arith-expand=include-bf16=true --convert-vector-to-llvm \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   --tetra-emulate-gpu-trampolines \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so > %t.amd
// RUN: %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.amd 3e-2 | FileCheck %s
// CHECK: memref 0: 5120 values, {{.*}} ok
// CHECK: memref 1: 2560 values, {{.*}} ok
// CHECK: memref 2: 2560 values, {{.*}} ok
// CHECK: memref 3: 5120 values, {{.*}} ok
// CHECK: memref 4: 2560 values, {{.*}} ok
// CHECK: memref 5: 2560 values, {{.*}} ok
// CHECK: memref 6: 5120 values, {{.*}} ok
// CHECK: memref 7: 2560 values, {{.*}} ok
// CHECK: memref 8: 2560 values, {{.*}} ok
// CHECK: memref 9: 512 values, {{.*}} ok
// CHECK: memref 10: 2560 values, {{.*}} ok
// CHECK: memref 11: 2560 values, {{.*}} ok

// One kernel per shape, mask and direction; the forward recomputes the
// log-sum-exp the backward reads.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels | FileCheck %s --check-prefix=KERNELS
// KERNELS-DAG: gpu.func @attention_1x160x2x16_kv160x1_causal_lse(
// KERNELS-DAG: gpu.func @attention_grad_query_1x160x2x16_kv160x1_causal(
// KERNELS-DAG: gpu.func @attention_grad_kv_1x160x2x16_kv160x1_causal(
// KERNELS-DAG: gpu.func @attention_grad_kv_1x160x2x16_kv160x1_causal_window40(
// KERNELS-DAG: gpu.func @attention_grad_kv_1x160x2x16_kv160x1(
// KERNELS-DAG: gpu.func @attention_grad_kv_1x16x2x16_kv160x1_causal(
// KERNELS: nvvm.mma.sync

#map = affine_map<(a, b, c, d) -> (a, b, c, d)>
func.func private @printMemrefF32(memref<*xf32>)

func.func @pattern_q(%phase: f32, %amplitude: f32, %init: tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32> {
  %r = linalg.generic {indexing_maps = [#map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%init : tensor<1x160x2x16xf32>) {
  ^bb0(%unused: f32):
    %i = linalg.index 1 : index
    %h = linalg.index 2 : index
    %d = linalg.index 3 : index
    %ii = arith.index_cast %i : index to i64
    %hh = arith.index_cast %h : index to i64
    %dd = arith.index_cast %d : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %fh = arith.sitofp %hh : i64 to f32
    %fd = arith.sitofp %dd : i64 to f32
    %c1 = arith.constant 0.37 : f32
    %c2 = arith.constant 1.3 : f32
    %c3 = arith.constant 0.71 : f32
    %x1 = arith.mulf %fi, %c1 : f32
    %x2 = arith.mulf %fh, %c2 : f32
    %x3 = arith.mulf %fd, %c3 : f32
    %m1 = arith.mulf %x1, %x3 : f32
    %s1 = arith.addf %m1, %x2 : f32
    %s2 = arith.addf %s1, %phase : f32
    %s3 = arith.addf %s2, %x3 : f32
    %v = math.sin %s3 : f32
    %w = arith.mulf %v, %amplitude : f32
    linalg.yield %w : f32
  } -> tensor<1x160x2x16xf32>
  return %r : tensor<1x160x2x16xf32>
}

func.func @pattern_kv(%phase: f32, %amplitude: f32, %init: tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32> {
  %r = linalg.generic {indexing_maps = [#map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%init : tensor<1x160x1x16xf32>) {
  ^bb0(%unused: f32):
    %i = linalg.index 1 : index
    %h = linalg.index 2 : index
    %d = linalg.index 3 : index
    %ii = arith.index_cast %i : index to i64
    %hh = arith.index_cast %h : index to i64
    %dd = arith.index_cast %d : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %fh = arith.sitofp %hh : i64 to f32
    %fd = arith.sitofp %dd : i64 to f32
    %c1 = arith.constant 0.37 : f32
    %c2 = arith.constant 1.3 : f32
    %c3 = arith.constant 0.71 : f32
    %x1 = arith.mulf %fi, %c1 : f32
    %x2 = arith.mulf %fh, %c2 : f32
    %x3 = arith.mulf %fd, %c3 : f32
    %m1 = arith.mulf %x1, %x3 : f32
    %s1 = arith.addf %m1, %x2 : f32
    %s2 = arith.addf %s1, %phase : f32
    %s3 = arith.addf %s2, %x3 : f32
    %v = math.sin %s3 : f32
    %w = arith.mulf %v, %amplitude : f32
    linalg.yield %w : f32
  } -> tensor<1x160x1x16xf32>
  return %r : tensor<1x160x1x16xf32>
}

func.func @pattern_q16(%phase: f32, %amplitude: f32, %init: tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32> {
  %r = linalg.generic {indexing_maps = [#map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%init : tensor<1x16x2x16xf32>) {
  ^bb0(%unused: f32):
    %i = linalg.index 1 : index
    %h = linalg.index 2 : index
    %d = linalg.index 3 : index
    %ii = arith.index_cast %i : index to i64
    %hh = arith.index_cast %h : index to i64
    %dd = arith.index_cast %d : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %fh = arith.sitofp %hh : i64 to f32
    %fd = arith.sitofp %dd : i64 to f32
    %c1 = arith.constant 0.37 : f32
    %c2 = arith.constant 1.3 : f32
    %c3 = arith.constant 0.71 : f32
    %x1 = arith.mulf %fi, %c1 : f32
    %x2 = arith.mulf %fh, %c2 : f32
    %x3 = arith.mulf %fd, %c3 : f32
    %m1 = arith.mulf %x1, %x3 : f32
    %s1 = arith.addf %m1, %x2 : f32
    %s2 = arith.addf %s1, %phase : f32
    %s3 = arith.addf %s2, %x3 : f32
    %v = math.sin %s3 : f32
    %w = arith.mulf %v, %amplitude : f32
    linalg.yield %w : f32
  } -> tensor<1x16x2x16xf32>
  return %r : tensor<1x16x2x16xf32>
}

func.func @print(%t: tensor<1x160x2x16xf32>) {
  %m = bufferization.to_buffer %t read_only : tensor<1x160x2x16xf32> to memref<1x160x2x16xf32>
  %u = memref.cast %m : memref<1x160x2x16xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @print16(%t: tensor<1x16x2x16xf32>) {
  %m = bufferization.to_buffer %t read_only : tensor<1x16x2x16xf32> to memref<1x16x2x16xf32>
  %u = memref.cast %m : memref<1x16x2x16xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @printKV(%t: tensor<1x160x1x16xf32>) {
  %m = bufferization.to_buffer %t read_only : tensor<1x160x1x16xf32> to memref<1x160x1x16xf32>
  %u = memref.cast %m : memref<1x160x1x16xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

func.func @main() {
  %three = arith.constant 3.0 : f32
  %one = arith.constant 1.0 : f32
  %p0 = arith.constant 0.0 : f32
  %p1 = arith.constant 0.9 : f32
  %p2 = arith.constant 2.1 : f32
  %p3 = arith.constant 1.7 : f32
  %eq = tensor.empty() : tensor<1x160x2x16xf32>
  %ekv = tensor.empty() : tensor<1x160x1x16xf32>
  %q = call @pattern_q(%p0, %three, %eq) : (f32, f32, tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32>
  %k = call @pattern_kv(%p1, %three, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  %v = call @pattern_kv(%p2, %one, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  %do = call @pattern_q(%p3, %one, %eq) : (f32, f32, tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32>
  %cq, %ck, %cv = tetra.attention_grad %q, %k, %v, %do {causal} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %wq, %wk, %wv = tetra.attention_grad %q, %k, %v, %do {causal, window = 40} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %fq, %fk, %fv = tetra.attention_grad %q, %k, %v, %do : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %e16 = tensor.empty() : tensor<1x16x2x16xf32>
  %q16 = call @pattern_q16(%p1, %three, %e16) : (f32, f32, tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32>
  %do16 = call @pattern_q16(%p2, %one, %e16) : (f32, f32, tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32>
  %lq, %lk, %lv = tetra.attention_grad %q16, %k, %v, %do16 {causal} : tensor<1x16x2x16xf32>, tensor<1x160x1x16xf32>
  call @print(%cq) : (tensor<1x160x2x16xf32>) -> ()
  call @printKV(%ck) : (tensor<1x160x1x16xf32>) -> ()
  call @printKV(%cv) : (tensor<1x160x1x16xf32>) -> ()
  call @print(%wq) : (tensor<1x160x2x16xf32>) -> ()
  call @printKV(%wk) : (tensor<1x160x1x16xf32>) -> ()
  call @printKV(%wv) : (tensor<1x160x1x16xf32>) -> ()
  call @print(%fq) : (tensor<1x160x2x16xf32>) -> ()
  call @printKV(%fk) : (tensor<1x160x1x16xf32>) -> ()
  call @printKV(%fv) : (tensor<1x160x1x16xf32>) -> ()
  call @print16(%lq) : (tensor<1x16x2x16xf32>) -> ()
  call @printKV(%lk) : (tensor<1x160x1x16xf32>) -> ()
  call @printKV(%lv) : (tensor<1x160x1x16xf32>) -> ()
  return
}
