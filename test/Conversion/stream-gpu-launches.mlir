// RUN: tetra-opt %s --tetra-stream-gpu-launches | FileCheck %s

// A block's launches queue on one stream: the first starts it, each later
// one depends on the one before. Allocations, deallocations, views and
// constants run beside the kernels; the host waits only before it touches
// memory itself (a runtime call, a load, a loop) and before the return.

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @k(%a: memref<64xf32>) kernel { gpu.return }
  }
  func.func private @tetra_rt_all_reduce(memref<64xf32>)

  // CHECK-LABEL: func.func @step
  // CHECK: %[[T0:.*]] = gpu.wait async
  // CHECK-NEXT: %[[T1:.*]] = gpu.launch_func async [%[[T0]]] @kernels::@k
  // CHECK-NEXT: memref.alloc
  // CHECK-NEXT: memref.expand_shape
  // CHECK-NEXT: arith.constant
  // CHECK-NEXT: %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @kernels::@k
  // CHECK-NEXT: memref.dealloc
  // CHECK-NEXT: gpu.wait [%[[T2]]]
  // CHECK-NEXT: call @tetra_rt_all_reduce
  // CHECK-NEXT: %[[T3:.*]] = gpu.wait async
  // CHECK-NEXT: %[[T4:.*]] = gpu.launch_func async [%[[T3]]] @kernels::@k
  // CHECK-NEXT: gpu.wait [%[[T4]]]
  // CHECK-NEXT: scf.for
  // CHECK-NEXT: %[[T5:.*]] = gpu.wait async
  // CHECK-NEXT: %[[T6:.*]] = gpu.launch_func async [%[[T5]]] @kernels::@k
  // CHECK-NEXT: gpu.wait [%[[T6]]]
  // CHECK-NEXT: }
  // CHECK-NEXT: %[[T7:.*]] = gpu.wait async
  // CHECK-NEXT: %[[T8:.*]] = gpu.launch_func async [%[[T7]]] @kernels::@k
  // CHECK-NEXT: gpu.wait [%[[T8]]]
  // CHECK-NEXT: memref.load
  // CHECK-NEXT: return
  func.func @step(%x: memref<64xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
    %t = memref.alloc() : memref<64xf32>
    %v = memref.expand_shape %t [[0, 1]] output_shape [8, 8] : memref<64xf32> into memref<8x8xf32>
    %c2 = arith.constant 2 : index
    gpu.launch_func @kernels::@k blocks in (%c2, %c1, %c1) threads in (%c1, %c1, %c1) args(%t : memref<64xf32>)
    memref.dealloc %t : memref<64xf32>
    call @tetra_rt_all_reduce(%x) : (memref<64xf32>) -> ()
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
    scf.for %i = %c0 to %c4 step %c1 {
      gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
    }
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
    %r = memref.load %x[%c0] : memref<64xf32>
    return %r : f32
  }

  // Launches already asynchronous keep their own order; a function without
  // launches is left alone.
  // CHECK-LABEL: func.func @ordered
  // CHECK-NEXT: arith.constant
  // CHECK-NEXT: %[[S:.*]] = gpu.wait async
  // CHECK-NEXT: %[[L:.*]] = gpu.launch_func async [%[[S]]] @kernels::@k
  // CHECK-NEXT: gpu.wait [%[[L]]]
  // CHECK-NEXT: return
  func.func @ordered(%x: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %s = gpu.wait async
    %l = gpu.launch_func async [%s] @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
    gpu.wait [%l]
    return
  }

  // CHECK-LABEL: func.func @host_only
  // CHECK-NOT: gpu.wait
  // CHECK: return
  func.func @host_only(%x: memref<64xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    %r = memref.load %x[%c0] : memref<64xf32>
    return %r : f32
  }
}
