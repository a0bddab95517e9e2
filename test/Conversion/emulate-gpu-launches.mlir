// Outlined kernels on the host, the CPU's check of the GPU lowering.
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=gemm=vendor --tetra-emulate-gpu-launches | FileCheck %s
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels --tetra-emulate-gpu-launches | FileCheck %s --check-prefix=MMA
// RUN: tetra-opt %S/Inputs/fused-groups.mlir --convert-linalg-to-gpu-kernels=target=rocdl --tetra-emulate-gpu-launches=warp-size=64 | FileCheck %s --check-prefix=MFMA
// RUN: tetra-opt %s --split-input-file --verify-diagnostics --tetra-emulate-gpu-launches | FileCheck %s --check-prefix=BARRIER

// Threads that run alone: loops.
// CHECK-NOT: gpu.
// CHECK: func.func private @tetra_sgemm
// CHECK-LABEL: func.func @layer
// CHECK: call @tetra_sgemm
// The pointwise epilogue: blocks, threads, then the grid-stride loop.
// CHECK: scf.for %[[BLOCK:arg[0-9]+]] = %c0 to %{{.*}} step %{{.*}} {
// CHECK: scf.for %[[THREAD:arg[0-9]+]] = %c0 to %{{.*}} step %{{.*}} {
// CHECK: %[[FIRST:.*]] = arith.muli %[[BLOCK]], %{{.*}}
// CHECK: arith.addi %[[FIRST]], %[[THREAD]]
// CHECK: math.tanh
// CHECK-NOT: gpu.

// The warp-wide GEMM: a host function the emulator runs once per thread,
// with the matrix instruction a call that sees the whole warp's fragments.
// MMA-NOT: gpu.
// MMA-LABEL: func.func @layer
// Its workgroup buffers are views of the emulator's arena, aligned to the
// 256 KiB window that wgmma's descriptors address, and each thread tells
// the emulator where they lie.
// MMA: %[[ARENA:.*]] = call @tetra_emu_workgroup_arena(%c20480) : (index) -> memref<?xi8>
// MMA: %[[SA:.*]] = memref.view %[[ARENA]][%c0{{.*}}][] : memref<?xi8> to memref<2x64x40xbf16>
// MMA: %[[SB:.*]] = memref.view %[[ARENA]][%c10240{{.*}}][] : memref<?xi8> to memref<2x64x40xbf16>
// MMA: call @gemm_40x20x24_nt_layer_0_emulated_launch(%c1{{.*}}, %c128, %c32, %arg0, %arg1, %arg2, %[[SA]], %[[SB]])
// MMA-NOT: memref.dealloc
// MMA-LABEL: func.func private @gemm_40x20x24_nt_layer_0_emulated(
// MMA: %[[PA:.*]] = memref.extract_aligned_pointer_as_index %arg3
// MMA: call @tetra_emu_workgroup_buffer(%c0{{.*}}, %[[PA]], %c10240{{.*}})
// MMA: %[[PB:.*]] = memref.extract_aligned_pointer_as_index %arg4
// MMA: call @tetra_emu_workgroup_buffer(%c1{{.*}}, %[[PB]], %c10240{{.*}})
// MMA: %[[D:.*]] = memref.alloca() : memref<4xf32>
// MMA: call @tetra_emu_thread_id() : () -> index
// MMA: call @tetra_emu_block_id() : () -> index
// Each access to shared memory is reported to the race check.
// MMA: call @tetra_emu_workgroup_access
// MMA: {{memref|vector}}.store {{.*}} : memref<2x64x40xbf16>
// MMA: call @tetra_emu_barrier()
// MMA: scf.for {{.*}} iter_args(%[[C0:[a-z0-9]+]] = %{{[a-z0-9_]+}}, %[[C1:[a-z0-9]+]] = %{{[a-z0-9_]+}}, %[[C2:[a-z0-9]+]] = %{{[a-z0-9_]+}}, %[[C3:[a-z0-9]+]] = %{{[a-z0-9_]+}},
// ldmatrix: the lane's row is reported, then its address goes to the
// emulator, which hands back the four registers.
// MMA: call @tetra_emu_workgroup_access
// MMA: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index
// MMA: %[[ROW:.*]] = arith.addi %[[BASE]], %{{.*}} : index
// MMA: call @tetra_emu_ldmatrix_x4_b16(%[[ROW]], %[[D]])
// MMA: memref.load %[[D]]
// MMA: llvm.bitcast %{{.*}} : f32 to vector<2xbf16>
// MMA: call @tetra_emu_mma_sync_m16n8k16_bf16({{.*}}, %[[C0]], %[[C1]], %[[C2]], %[[C3]], %[[D]])
// MMA: memref.load %[[D]][%c0
// MMA: call @tetra_emu_barrier()
// The activation, the product's epilogue.
// MMA: math.tanh
// MMA: return
// MMA: func.func private @gemm_40x20x24_nt_layer_0_emulated_launch(index, index, index, memref<40x24xf32>, memref<20x24xf32>, memref<40x20xf32>, memref<2x64x40xbf16>, memref<2x64x40xbf16>)
// MMA-NOT: gpu.

// MFMA: call @gemm_40x20x24_nt_layer_0_emulated_launch(%{{.*}}, %c256, %c64,
// MFMA-LABEL: func.func private @gemm_40x20x24_nt_layer_0_emulated(
// MFMA: %[[A:.*]] = llvm.bitcast %{{.*}} : vector<4xbf16> to i64
// MFMA: %[[B:.*]] = llvm.bitcast %{{.*}} : vector<4xbf16> to i64
// MFMA: call @tetra_emu_mfma_16x16x16_bf16(%[[A]], %[[B]],
// MFMA: vector.load %{{.*}}[%{{.*}}] : memref<4xf32>, vector<4xf32>

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @reduce(%buffer: memref<128xf32>) kernel {
      %t = gpu.thread_id x
      %v = memref.load %buffer[%t] : memref<128xf32>
      gpu.barrier
      memref.store %v, %buffer[%t] : memref<128xf32>
      gpu.return
    }
  }
  func.func @run(%buffer: memref<128xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch_func @kernels::@reduce blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1)
        args(%buffer : memref<128xf32>)
    return
  }
}
// BARRIER-LABEL: func.func @run
// BARRIER: call @reduce_emulated_launch(%c1, %c128, %c32, %arg0)
// BARRIER-LABEL: func.func private @reduce_emulated(
// BARRIER: call @tetra_emu_thread_id()
// BARRIER: call @tetra_emu_barrier()
// BARRIER: return

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @staged(%buffer: memref<128xf32>) workgroup(%tile: memref<128xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %v = memref.load %buffer[%t] : memref<128xf32>
      memref.store %v, %tile[%t] : memref<128xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      gpu.return
    }
  }
  func.func @run(%buffer: memref<128xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @kernels::@staged blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%buffer : memref<128xf32>)
    return
  }
}
// Workgroup memory: host memory the emulator lends the launch's blocks.
// BARRIER-LABEL: func.func @run
// BARRIER: %[[ARENA:.*]] = call @tetra_emu_workgroup_arena(%c512) : (index) -> memref<?xi8>
// BARRIER: %[[TILE:.*]] = memref.view %[[ARENA]][%c0][] : memref<?xi8> to memref<128xf32>
// BARRIER: call @staged_emulated_launch(%c1, %c1, %c32, %arg0, %[[TILE]])
// BARRIER-LABEL: func.func private @staged_emulated(%arg0: memref<128xf32>, %arg1: memref<128xf32>)
// BARRIER: memref.store %{{.*}}, %arg1[%{{.*}}] : memref<128xf32>

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scratch(%x: f32) private(%own: memref<4xf32, #gpu.address_space<private>>) kernel {
      // expected-error @-1 {{has private memory, which is not emulated}}
      gpu.barrier
      gpu.return
    }
  }
  func.func @run(%x: f32) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @kernels::@scratch blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%x : f32)
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @shuffled(%x: f32) kernel {
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      // expected-error @+1 {{is emulated for xor on f32 only}}
      %y, %ok = gpu.shuffle up %x, %c1, %c32 : f32
      gpu.return
    }
  }
  func.func @run(%x: f32) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @kernels::@shuffled blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%x : f32)
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @plane(%x: f32) kernel {
      gpu.return
    }
  }
  func.func @run(%x: f32) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    // expected-error @+1 {{emulates launches along x only}}
    gpu.launch_func @kernels::@plane blocks in (%c1, %c2, %c1) threads in (%c1, %c1, %c1)
        args(%x : f32)
    return
  }
}
