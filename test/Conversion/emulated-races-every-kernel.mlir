// With check-every-kernel, kernels whose threads each run alone (no barrier,
// no workgroup memory) run as the emulator's fibers too, so the race check
// covers them: two threads writing one output element, and a plain access
// beside another thread's atomic add. Atomic adds among themselves do not
// race. Without the option the same kernels run as host loops, unchecked.
//
// RUN: tetra-opt %s --tetra-emulate-gpu-launches=check-every-kernel=true | FileCheck %s --check-prefix=IR
// RUN: tetra-opt %s --tetra-emulate-gpu-launches=check-every-kernel=true --convert-vector-to-llvm --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --reconcile-unrealized-casts --tetra-emulate-gpu-trampolines > %t.ll.mlir
// RUN: %mlir_runner %t.ll.mlir -e atomic_adds -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so | FileCheck %s --check-prefix=SUM
// RUN: not %mlir_runner %t.ll.mlir -e read_beside_atomic_adds -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=ATOMIC
// RUN: not %mlir_runner %t.ll.mlir -e two_threads_one_output -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=WRITES
// RUN: tetra-opt %s --tetra-emulate-gpu-launches --convert-vector-to-llvm --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --reconcile-unrealized-casts --tetra-emulate-gpu-trampolines > %t.loops.mlir
// RUN: %mlir_runner %t.loops.mlir -e two_threads_one_output -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so | FileCheck %s --check-prefix=UNCHECKED

// Every kernel becomes a host function the emulator runs; an atomic add
// reports its bytes with writes = 3.
// IR-LABEL: func.func private @add_one_emulated(
// IR: call @tetra_emu_global_access(%c0{{.*}}, %{{.*}}, %{{.*}}, %c4{{.*}}, %c3{{.*}}, %c4{{.*}})
// IR-NEXT: memref.atomic_rmw addf
// IR-LABEL: func.func private @halves_emulated(
// IR-NOT: scf.for

// 2 blocks of 32 threads each add 1.0 to one element.
// SUM: [64]
// Thread 0 of each block also reads the element.
// ATOMIC: tetra-run: error: emulated GPU kernel add_one_and_read, block 0: threads race on byte 0 of kernel argument 0: thread 1 of block 0 atomically updates what thread 0 of block 0 read with no barrier between
// Thread t writes element t / 2.
// WRITES: tetra-run: error: emulated GPU kernel halves, block 0: threads race on byte 0 of kernel argument 0: thread 1 of block 0 writes what thread 0 of block 0 wrote with no barrier between
// UNCHECKED: [1,  3,  5,

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @add_one(%sum: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      %old = memref.atomic_rmw addf %one, %sum[%c0] : (f32, memref<1xf32>) -> f32
      gpu.return
    }
    gpu.func @add_one_and_read(%sum: memref<1xf32>, %seen: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c32 = arith.constant 32 : index
      %one = arith.constant 1.0 : f32
      %t = gpu.thread_id x
      %b = gpu.block_id x
      %first = arith.cmpi eq, %t, %c0 : index
      scf.if %first {
        %v = memref.load %sum[%c0] : memref<1xf32>
        %at = arith.muli %b, %c32 : index
        memref.store %v, %seen[%at] : memref<64xf32>
      }
      %old = memref.atomic_rmw addf %one, %sum[%c0] : (f32, memref<1xf32>) -> f32
      gpu.return
    }
    gpu.func @halves(%out: memref<32xf32>) kernel {
      %c2 = arith.constant 2 : index
      %t = gpu.thread_id x
      %half = arith.divui %t, %c2 : index
      %i = arith.index_cast %t : index to i64
      %v = arith.uitofp %i : i64 to f32
      memref.store %v, %out[%half] : memref<32xf32>
      gpu.return
    }
  }
  func.func private @printMemrefF32(memref<*xf32>)
  func.func @atomic_adds() {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c32 = arith.constant 32 : index
    %zero = arith.constant 0.0 : f32
    %sum = memref.alloc() : memref<1xf32>
    %c0 = arith.constant 0 : index
    memref.store %zero, %sum[%c0] : memref<1xf32>
    gpu.launch_func @kernels::@add_one blocks in (%c2, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%sum : memref<1xf32>)
    %u = memref.cast %sum : memref<1xf32> to memref<*xf32>
    call @printMemrefF32(%u) : (memref<*xf32>) -> ()
    return
  }
  func.func @read_beside_atomic_adds() {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c32 = arith.constant 32 : index
    %zero = arith.constant 0.0 : f32
    %sum = memref.alloc() : memref<1xf32>
    %seen = memref.alloc() : memref<64xf32>
    %c0 = arith.constant 0 : index
    memref.store %zero, %sum[%c0] : memref<1xf32>
    gpu.launch_func @kernels::@add_one_and_read blocks in (%c2, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%sum : memref<1xf32>, %seen : memref<64xf32>)
    return
  }
  func.func @two_threads_one_output() {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %out = memref.alloc() : memref<32xf32>
    gpu.launch_func @kernels::@halves blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)
        args(%out : memref<32xf32>)
    %u = memref.cast %out : memref<32xf32> to memref<*xf32>
    call @printMemrefF32(%u) : (memref<*xf32>) -> ()
    return
  }
}
