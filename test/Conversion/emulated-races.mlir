// The emulator's race check. Its fibers run in one fixed order, and a
// launch's blocks one after another, so a missing barrier would otherwise go
// unseen; each access to memory is reported to it, and two threads touching
// a byte between the same barriers, one writing, stop the run; in global
// memory, so do two blocks of one launch. An access off the alignment its
// code claims (a vector load's `alignment`) stops the run too.
//
// RUN: tetra-opt %s --tetra-emulate-gpu-launches | FileCheck %s --check-prefix=IR
// RUN: tetra-opt %s --tetra-emulate-gpu-launches --convert-vector-to-llvm --convert-scf-to-cf --expand-strided-metadata --lower-affine \
// RUN:   --finalize-memref-to-llvm --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm \
// RUN:   --convert-func-to-llvm --reconcile-unrealized-casts --tetra-emulate-gpu-trampolines > %t.ll.mlir
// RUN: %mlir_runner %t.ll.mlir -e reversed -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so | FileCheck %s --check-prefix=OK
// RUN: not %mlir_runner %t.ll.mlir -e reversed_without_barrier -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=READ
// RUN: not %mlir_runner %t.ll.mlir -e overwritten_while_read -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=REUSE
// RUN: not %mlir_runner %t.ll.mlir -e every_block_writes_everything -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=BLOCKS
// RUN: not %mlir_runner %t.ll.mlir -e global_without_barrier -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=GLOBAL
// RUN: not %mlir_runner %t.ll.mlir -e misaligned -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=ALIGN
// RUN: %mlir_runner %t.ll.mlir -e copied -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so | FileCheck %s --check-prefix=OK
// RUN: not %mlir_runner %t.ll.mlir -e copied_waited_after_the_barrier -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=LANDS
// RUN: not %mlir_runner %t.ll.mlir -e past_the_end -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so 2>&1 | FileCheck %s --check-prefix=BOUNDS

// Every load and store of a workgroup buffer, through a view too, is
// reported with its byte offset (element offset x 4 for f32) and the
// alignment it claims (an f32's 4 bytes).
// IR-LABEL: func.func private @reverse_emulated(
// IR: %[[BASE:.*]], %[[OFFSET:.*]], %{{.*}}, %[[STRIDE:.*]] = memref.extract_strided_metadata
// IR: %[[AT:.*]] = arith.muli %{{.*}}, %[[STRIDE]]
// IR: %[[ELEMENT:.*]] = arith.addi %[[OFFSET]], %[[AT]]
// IR: %[[BYTE:.*]] = arith.muli %[[ELEMENT]], %c4
// IR: call @tetra_emu_workgroup_access(%c0{{.*}}, %c256{{.*}}, %[[BYTE]], %c4{{.*}}, %c1{{.*}}, %c4{{.*}})
// IR: memref.store
// IR: call @tetra_emu_barrier()
// IR: call @tetra_emu_workgroup_access(%c0{{.*}}, %c256{{.*}}, %{{.*}}, %c4{{.*}}, %c0{{.*}}, %c4{{.*}})
// IR: memref.load
// Global memory: the address too (the aligned pointer plus the offset).
// IR: %[[POINTER:.*]] = memref.extract_aligned_pointer_as_index %arg0
// IR: %[[ADDRESS:.*]] = arith.addi %[[POINTER]], %[[AT_BYTE:.*]] : index
// IR: call @tetra_emu_global_access(%c0{{.*}}, %[[AT_BYTE]], %[[ADDRESS]], %c4{{.*}}, %c1{{.*}}, %c4{{.*}})
// IR-LABEL: func.func private @reverse_halves_emulated(
// IR: memref.subview
// IR: memref.extract_strided_metadata
// IR: call @tetra_emu_workgroup_access(%c0{{.*}}, %c256{{.*}}, %{{.*}}, %c4{{.*}}, %c0{{.*}}, %c4{{.*}})

// With the barrier: thread t reads what thread 63 - t wrote.
// OK: [63,  62,  61,
// OK: 2,  1,  0]
// Without it the fixed order hides the bug (thread t reads slot 63 - t
// before thread 63 - t writes it, and gets garbage); the check names it at
// the first write into a slot another thread has read: thread 32's, into
// what thread 31 read.
// READ: tetra-run: error: emulated GPU kernel reverse_without_barrier, block 0: threads race on byte 128 of workgroup buffer 0: thread 32 writes what thread 31 read with no barrier between
// The second round's store needs a barrier after the first round's reads:
// thread 31 has already stored its second round into slot 31 when thread
// 32 reads it for the first.
// REUSE: tetra-run: error: emulated GPU kernel reverse_halves, block 0: threads race on byte 124 of workgroup buffer 0: thread 32 reads what thread 31 wrote with no barrier between
// Two blocks writing the same element: the second is named.
// BLOCKS: tetra-run: error: emulated GPU kernel write_everything, block 1: threads race on byte 0 of kernel argument 0: thread 0 of block 1 writes what thread 0 of block 0 wrote in the same launch
// Threads of one block need a barrier between global writes and reads too.
// GLOBAL: tetra-run: error: emulated GPU kernel global_reverse_without_barrier, block 0: threads race on byte 124 of kernel argument 0: thread 32 of block 0 reads what thread 31 of block 0 wrote with no barrier between
// A vector load claiming 16-byte alignment 4 bytes into a 64-byte aligned
// buffer.
// ALIGN: tetra-run: error: emulated GPU kernel misaligned_vector, block 0: thread 0 reads 16 bytes at byte 4 of kernel argument 0 as 16-byte aligned, but they are not (address
// The same reversal with the slots filled by asynchronous copies from
// global memory (reported as a write when they start, tetra_emu_async_copy
// when they do, committed and waited for before the barrier), and with the
// wait after the barrier: each thread's copy lands only then, thread 31's
// after its own read and before thread 32 reads that slot.
// IR-LABEL: func.func private @copied_reverse_emulated(
// IR: call @tetra_emu_global_access(%c0{{.*}}, %{{.*}}, %{{.*}}, %c4{{.*}}, %c0{{.*}}, %c4{{.*}})
// IR: call @tetra_emu_workgroup_access(%c0{{.*}}, %c256{{.*}}, %{{.*}}, %c4{{.*}}, %c2{{.*}}, %c4{{.*}})
// IR: call @tetra_emu_async_copy(
// IR: call @tetra_emu_async_commit()
// IR: call @tetra_emu_async_wait(%c0{{.*}})
// IR-NEXT: call @tetra_emu_barrier()
// IR-NOT: nvgpu.
// LANDS: tetra-run: error: emulated GPU kernel copied_reverse_waited_after_the_barrier, block 0: threads race on byte 124 of workgroup buffer 0: thread 32 reads what an asynchronous copy of thread 31 landed with no barrier between
// BOUNDS: tetra-run: error: emulated GPU kernel off_by_one, block 0: thread 63 reads 4 bytes at byte 256 of workgroup buffer 0, which has 256

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @reverse(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c63 = arith.constant 63 : index
      %ti = arith.index_cast %t : index to i64
      %v = arith.sitofp %ti : i64 to f32
      memref.store %v, %s[%t] : memref<64xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %other = arith.subi %c63, %t : index
      %w = memref.load %s[%other] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.return
    }
    gpu.func @reverse_without_barrier(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c63 = arith.constant 63 : index
      %ti = arith.index_cast %t : index to i64
      %v = arith.sitofp %ti : i64 to f32
      memref.store %v, %s[%t] : memref<64xf32, #gpu.address_space<workgroup>>
      %other = arith.subi %c63, %t : index
      %w = memref.load %s[%other] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.return
    }
    // Two rounds through one buffer, read through a view.
    gpu.func @reverse_halves(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c63 = arith.constant 63 : index
      %ti = arith.index_cast %t : index to i64
      %v = arith.sitofp %ti : i64 to f32
      %view = memref.subview %s[0] [64] [1] : memref<64xf32, #gpu.address_space<workgroup>> to memref<64xf32, strided<[1]>, #gpu.address_space<workgroup>>
      scf.for %round = %c0 to %c2 step %c1 {
        memref.store %v, %s[%t] : memref<64xf32, #gpu.address_space<workgroup>>
        gpu.barrier
        %other = arith.subi %c63, %t : index
        %w = memref.load %view[%other] : memref<64xf32, strided<[1]>, #gpu.address_space<workgroup>>
        memref.store %w, %out[%t] : memref<64xf32>
      }
      gpu.return
    }
    gpu.func @write_everything(%out: memref<64xf32>) kernel {
      %t = gpu.thread_id x
      %b = gpu.block_id x
      %bi = arith.index_cast %b : index to i64
      %v = arith.sitofp %bi : i64 to f32
      memref.store %v, %out[%t] : memref<64xf32>
      gpu.barrier
      gpu.return
    }
    gpu.func @global_reverse_without_barrier(%out: memref<64xf32>) kernel {
      %t = gpu.thread_id x
      %c63 = arith.constant 63 : index
      %other = arith.subi %c63, %t : index
      %w = memref.load %out[%other] : memref<64xf32>
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.barrier
      gpu.return
    }
    gpu.func @misaligned_vector(%out: memref<64xf32>) kernel {
      %t = gpu.thread_id x
      %c1 = arith.constant 1 : index
      %w = vector.load %out[%c1] {alignment = 16} : memref<64xf32>, vector<4xf32>
      %x = vector.extract %w[0] : f32 from vector<4xf32>
      gpu.barrier
      memref.store %x, %out[%t] : memref<64xf32>
      gpu.return
    }
    // out[t] = t, copied asynchronously into slot t, then reversed.
    gpu.func @copied_reverse(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c1 = arith.constant 1 : index
      %c63 = arith.constant 63 : index
      %ti = arith.index_cast %t : index to i64
      %v = arith.sitofp %ti : i64 to f32
      memref.store %v, %out[%t] : memref<64xf32>
      %copy = nvgpu.device_async_copy %out[%t], %s[%t], 1, %c1 : memref<64xf32> to memref<64xf32, #gpu.address_space<workgroup>>
      %group = nvgpu.device_async_create_group %copy
      nvgpu.device_async_wait %group {numGroups = 0 : i32}
      gpu.barrier
      %other = arith.subi %c63, %t : index
      %w = memref.load %s[%other] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.return
    }
    gpu.func @copied_reverse_waited_after_the_barrier(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c1 = arith.constant 1 : index
      %c63 = arith.constant 63 : index
      %ti = arith.index_cast %t : index to i64
      %v = arith.sitofp %ti : i64 to f32
      memref.store %v, %out[%t] : memref<64xf32>
      %copy = nvgpu.device_async_copy %out[%t], %s[%t], 1, %c1 : memref<64xf32> to memref<64xf32, #gpu.address_space<workgroup>>
      %group = nvgpu.device_async_create_group %copy
      gpu.barrier
      %other = arith.subi %c63, %t : index
      %w = memref.load %s[%other] : memref<64xf32, #gpu.address_space<workgroup>>
      nvgpu.device_async_wait %group {numGroups = 0 : i32}
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.return
    }
    gpu.func @off_by_one(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c1 = arith.constant 1 : index
      %next = arith.addi %t, %c1 : index
      %w = memref.load %s[%next] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %w, %out[%t] : memref<64xf32>
      gpu.barrier
      gpu.return
    }
  }
  func.func private @printMemrefF32(memref<*xf32>)
  func.func @launch(%kernel: index, %out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %c0 = arith.constant 0 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    scf.index_switch %kernel
    case 0 {
      gpu.launch_func @kernels::@reverse blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 1 {
      gpu.launch_func @kernels::@reverse_without_barrier blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 2 {
      gpu.launch_func @kernels::@reverse_halves blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 4 {
      gpu.launch_func @kernels::@write_everything blocks in (%c2, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 5 {
      gpu.launch_func @kernels::@global_reverse_without_barrier blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 6 {
      gpu.launch_func @kernels::@misaligned_vector blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 7 {
      gpu.launch_func @kernels::@copied_reverse blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    case 8 {
      gpu.launch_func @kernels::@copied_reverse_waited_after_the_barrier blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    default {
      gpu.launch_func @kernels::@off_by_one blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
      scf.yield
    }
    %u = memref.cast %out : memref<64xf32> to memref<*xf32>
    call @printMemrefF32(%u) : (memref<*xf32>) -> ()
    return
  }
  func.func @run(%kernel: index) {
    %out = memref.alloc() {alignment = 64} : memref<64xf32>
    call @launch(%kernel, %out) : (index, memref<64xf32>) -> ()
    memref.dealloc %out : memref<64xf32>
    return
  }
  func.func @reversed() {
    %k = arith.constant 0 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @reversed_without_barrier() {
    %k = arith.constant 1 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @overwritten_while_read() {
    %k = arith.constant 2 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @past_the_end() {
    %k = arith.constant 3 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @every_block_writes_everything() {
    %k = arith.constant 4 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @global_without_barrier() {
    %k = arith.constant 5 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @misaligned() {
    %k = arith.constant 6 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @copied() {
    %k = arith.constant 7 : index
    call @run(%k) : (index) -> ()
    return
  }
  func.func @copied_waited_after_the_barrier() {
    %k = arith.constant 8 : index
    call @run(%k) : (index) -> ()
    return
  }
}
