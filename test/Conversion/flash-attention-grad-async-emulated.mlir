// FlashAttention-2's backward with bf16 inputs on NVIDIA: the query,
// key, value and output-gradient tiles reach shared memory by asynchronous
// copies (cp.async), all of a step's started before any is waited for.
// Run by the GPU emulator against tetra.attention_grad's CPU lowering on
// the same bf16-rounded inputs; shapes and masks as in
// flash-attention-grad-emulated.mlir. max |gpu - cpu| <= 3e-2 max |cpu| for
// each of dQ, dK, dV.
//
// RUN: tetra-opt %s --convert-tetra-to-linalg --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so > %t.cpu
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels=target=nvvm --tetra-emulate-gpu-launches=warp-size=32 --arith-expand=include-bf16=true --convert-vector-to-llvm \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   --tetra-emulate-gpu-trampolines \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so > %t.gpu
// RUN: %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.gpu 3e-2 | FileCheck %s
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

// Every backward kernel copies asynchronously and keeps a copy in flight
// behind a product. The query kernel runs the forward's pipeline with the
// tiles' roles swapped: the value tile first, for dP = grad V^T, while the
// key tile lands; then the scores and dQ += dS K while the next value tile
// lands (two barriers a step). The key/value kernel:
// the output-gradient tile lands while the warps compute the scores (S^T =
// K Q^T), and the next query tile while they add up dV. Its step has three
// barriers: the gradient tile landed; the queries and their statistics free
// (the next tile's copy starts, if there is one); the next queries landed
// and the gradient tile free (its next copy starts). Leaving out the first
// or the second (tried) stops the run with a race on workgroup memory.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels | FileCheck %s --check-prefix=KERNELS
// KERNELS-LABEL: gpu.func @attention_grad_query_1x160x2x16_kv160x1_causal(
// KERNELS: nvgpu.device_async_copy %arg2
// KERNELS: nvgpu.device_async_create_group
// KERNELS-NEXT: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS: scf.for
// KERNELS: nvgpu.device_async_copy %arg1
// KERNELS: nvgpu.device_async_create_group
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS-NEXT: arith.constant
// KERNELS-NEXT: arith.addi
// KERNELS: nvgpu.device_async_copy %arg2
// KERNELS: nvgpu.device_async_create_group
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS-LABEL: gpu.func @attention_grad_kv_1x160x2x16_kv160x1_causal(
// KERNELS: nvgpu.device_async_copy %arg0
// KERNELS: nvgpu.device_async_create_group
// KERNELS-NEXT: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS: nvgpu.device_async_copy %arg3
// KERNELS-NEXT: nvgpu.device_async_create_group
// KERNELS: scf.for
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_create_group{{ *$}}
// KERNELS-NEXT: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS: nvvm.mma.sync
// KERNELS: gpu.barrier
// KERNELS-NEXT: arith.constant
// KERNELS-NEXT: arith.addi
// KERNELS: scf.if
// KERNELS: nvgpu.device_async_copy %arg0
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_create_group{{ *$}}
// KERNELS-NEXT: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS-NEXT: scf.if
// KERNELS: nvgpu.device_async_copy %arg3

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
  %q0 = call @pattern_q(%p0, %three, %eq) : (f32, f32, tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32>
  %q = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q0 : tensor<1x160x2x16xf32>) outs(%eq : tensor<1x160x2x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x2x16xf32>
  %k0 = call @pattern_kv(%p1, %three, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  %k = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k0 : tensor<1x160x1x16xf32>) outs(%ekv : tensor<1x160x1x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x1x16xf32>
  %v0 = call @pattern_kv(%p2, %one, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  %v = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%v0 : tensor<1x160x1x16xf32>) outs(%ekv : tensor<1x160x1x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x1x16xf32>
  %do0 = call @pattern_q(%p3, %one, %eq) : (f32, f32, tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32>
  %do = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%do0 : tensor<1x160x2x16xf32>) outs(%eq : tensor<1x160x2x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x2x16xf32>
  %cq, %ck, %cv = tetra.attention_grad %q, %k, %v, %do {causal} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %wq, %wk, %wv = tetra.attention_grad %q, %k, %v, %do {causal, window = 40} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %fq, %fk, %fv = tetra.attention_grad %q, %k, %v, %do : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>
  %e16 = tensor.empty() : tensor<1x16x2x16xf32>
  %q160 = call @pattern_q16(%p1, %three, %e16) : (f32, f32, tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32>
  %q16 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q160 : tensor<1x16x2x16xf32>) outs(%e16 : tensor<1x16x2x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x16x2x16xf32>
  %do160 = call @pattern_q16(%p2, %one, %e16) : (f32, f32, tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32>
  %do16 = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%do160 : tensor<1x16x2x16xf32>) outs(%e16 : tensor<1x16x2x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x16x2x16xf32>
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
