// The flash-attention forward with bf16 keys and values on NVIDIA: the
// tiles reach shared memory by asynchronous copies (cp.async), each step's
// value tile landing while the warps score its key tile, and the next key
// tile while they add up the values. Run by the GPU emulator, which lands a
// copy only at the wait that covers it and checks each landing against the
// other threads' reads, against attention's CPU lowering on the same
// bf16-rounded keys and values. Shapes as in flash-attention-emulated.mlir:
// 160 queries and keys (three key tiles, the last partial, so prefetched
// tiles are used and the one past the end lands as zeros), two query heads
// on one key/value head, head_dim 16; causal, causal with a window of 40,
// unmasked, and 16 queries at position 100 of a KV cache of 160. bf16
// operands: max |gpu - cpu| <= 3e-2 max |cpu|.
//
// RUN: tetra-opt %s --convert-tetra-to-linalg --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so > %t.cpu
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels --tetra-emulate-gpu-launches --arith-expand=include-bf16=true --convert-vector-to-llvm \
// RUN:   --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   --tetra-emulate-gpu-trampolines \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so > %t.gpu
// RUN: %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.gpu 3e-2 | FileCheck %s
// CHECK: memref 0: 5120 values, {{.*}} ok
// CHECK: memref 1: 5120 values, {{.*}} ok
// CHECK: memref 2: 5120 values, {{.*}} ok
// CHECK: memref 3: 512 values, {{.*}} ok

// The kernels read bf16 keys and values, copy them asynchronously (three
// groups a kernel: the first key tile, then each step's values and next
// keys, each waited for before its barrier), and lower to cp.async.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels | FileCheck %s --check-prefix=KERNELS
// KERNELS-LABEL: gpu.func @attention_1x160x2x16_kv160x1_causal(
// KERNELS-SAME: memref<1x160x1x16xbf16>, %{{.*}}: memref<1x160x1x16xbf16>
// KERNELS: nvgpu.device_async_copy
// KERNELS: nvgpu.device_async_create_group
// KERNELS-NEXT: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS: scf.for
// KERNELS: nvgpu.device_async_copy
// KERNELS: nvgpu.device_async_create_group
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS: nvgpu.device_async_copy
// KERNELS: nvgpu.device_async_create_group
// KERNELS: nvvm.mma.sync
// KERNELS: nvgpu.device_async_wait
// KERNELS-NEXT: gpu.barrier
// KERNELS-NEXT: scf.yield
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN: | tetra-opt --pass-pipeline='builtin.module(convert-linalg-to-gpu-kernels{target=nvvm},nvvm-attach-target{chip=sm_90a features=+ptx81 O=3},gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,reconcile-unrealized-casts),gpu-module-to-binary{format=isa toolkit=%cuda_path})' \
// RUN: | FileCheck %s --check-prefix=PTX
// PTX: .entry attention_1x160x2x16_kv160x1_causal(
// PTX-SAME: cp.async.cg.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 16, {{%r[0-9]+|16}};
// PTX-SAME: cp.async.commit_group;
// PTX-SAME: cp.async.wait_group {{\\09}}0;
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// On AMD, which has no such copy, the same kernels stage through registers.
// RUN: tetra-opt %s --convert-tetra-to-linalg=flash-attention=true --tetra-bf16-activations --one-shot-bufferize=bufferize-function-boundaries \
// RUN:   --convert-linalg-to-gpu-kernels=target=rocdl | FileCheck %s --check-prefix=AMD
// AMD-LABEL: gpu.func @attention_1x160x2x16_kv160x1_causal(
// AMD-NOT: nvgpu.device_async_copy
// AMD: amdgpu.mfma

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

func.func @main() {
  %three = arith.constant 3.0 : f32
  %one = arith.constant 1.0 : f32
  %p0 = arith.constant 0.0 : f32
  %p1 = arith.constant 0.9 : f32
  %p2 = arith.constant 2.1 : f32
  %eq = tensor.empty() : tensor<1x160x2x16xf32>
  %ekv = tensor.empty() : tensor<1x160x1x16xf32>
  %q = call @pattern_q(%p0, %three, %eq) : (f32, f32, tensor<1x160x2x16xf32>) -> tensor<1x160x2x16xf32>
  %k0 = call @pattern_kv(%p1, %three, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  %v0 = call @pattern_kv(%p2, %one, %ekv) : (f32, f32, tensor<1x160x1x16xf32>) -> tensor<1x160x1x16xf32>
  // Keys and values as bf16 holds them; only attention reads the rounded
  // tensors, so on the GPU they are bf16 buffers.
  %k = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k0 : tensor<1x160x1x16xf32>) outs(%ekv : tensor<1x160x1x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x1x16xf32>
  %v = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%v0 : tensor<1x160x1x16xf32>) outs(%ekv : tensor<1x160x1x16xf32>) {
  ^bb0(%x: f32, %unused: f32):
    %h = arith.truncf %x : f32 to bf16
    %w = arith.extf %h : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x160x1x16xf32>
  %causal = tetra.attention %q, %k, %v {causal} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>, tensor<1x160x1x16xf32>
  %window = tetra.attention %q, %k, %v {causal, window = 40} : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>, tensor<1x160x1x16xf32>
  %full = tetra.attention %q, %k, %v : tensor<1x160x2x16xf32>, tensor<1x160x1x16xf32>, tensor<1x160x1x16xf32>
  // 16 queries at positions 100..115 of a KV cache of 160 (the decoder's
  // case): the keys past each query's position are masked.
  %e16 = tensor.empty() : tensor<1x16x2x16xf32>
  %q16 = call @pattern_q16(%p1, %three, %e16) : (f32, f32, tensor<1x16x2x16xf32>) -> tensor<1x16x2x16xf32>
  %at = arith.constant 100 : i64
  %cached = tetra.attention %q16, %k, %v at %at {causal} : tensor<1x16x2x16xf32>, tensor<1x160x1x16xf32>, tensor<1x160x1x16xf32>
  call @print(%causal) : (tensor<1x160x2x16xf32>) -> ()
  call @print(%window) : (tensor<1x160x2x16xf32>) -> ()
  call @print(%full) : (tensor<1x160x2x16xf32>) -> ()
  call @print16(%cached) : (tensor<1x16x2x16xf32>) -> ()
  return
}
