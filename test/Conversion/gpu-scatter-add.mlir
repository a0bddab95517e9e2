// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels | FileCheck %s

// A host loop nest whose only writes add into memory (the embedding
// gradient: rows of the gradient added at the tokens' rows of the table)
// becomes a kernel: one thread an iteration (grid-stride, the outer loop
// slowest), the add atomic. Nests that read what they add into elsewhere,
// or store anything else, stay on the host.

// CHECK-LABEL: func.func @embedding_grad
// CHECK-NOT: scf.for
// CHECK: gpu.launch_func @kernels::@embedding_grad_0_scatter_add blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%arg0 : memref<32xi32>, %arg1 : memref<256x64xf32>, %arg2 : memref<32x64xf32>)
// CHECK-NOT: scf.for
// CHECK: return
func.func @embedding_grad(%ids: memref<32xi32>, %table: memref<256x64xf32>, %grad: memref<32x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.for %m = %c0 to %c32 step %c1 {
    %id = memref.load %ids[%m] : memref<32xi32>
    %row = arith.index_cast %id : i32 to index
    scf.for %h = %c0 to %c64 step %c1 {
      %old = memref.load %table[%row, %h] : memref<256x64xf32>
      %g = memref.load %grad[%m, %h] : memref<32x64xf32>
      %sum = arith.addf %old, %g : f32
      memref.store %sum, %table[%row, %h] : memref<256x64xf32>
    }
  }
  return
}

// CHECK-LABEL: func.func @reads_what_it_adds_into
// CHECK: scf.for
// CHECK-NOT: gpu.launch_func
func.func @reads_what_it_adds_into(%ids: memref<32xi32>, %table: memref<256x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.for %m = %c0 to %c32 step %c1 {
    %id = memref.load %ids[%m] : memref<32xi32>
    %row = arith.index_cast %id : i32 to index
    scf.for %h = %c0 to %c64 step %c1 {
      %old = memref.load %table[%row, %h] : memref<256x64xf32>
      %first = memref.load %table[%c0, %h] : memref<256x64xf32>
      %sum = arith.addf %old, %first : f32
      memref.store %sum, %table[%row, %h] : memref<256x64xf32>
    }
  }
  return
}

// CHECK-LABEL: func.func @overwrites
// CHECK: scf.for
// CHECK-NOT: gpu.launch_func
func.func @overwrites(%ids: memref<32xi32>, %table: memref<256x64xf32>, %grad: memref<32x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.for %m = %c0 to %c32 step %c1 {
    %id = memref.load %ids[%m] : memref<32xi32>
    %row = arith.index_cast %id : i32 to index
    scf.for %h = %c0 to %c64 step %c1 {
      %g = memref.load %grad[%m, %h] : memref<32x64xf32>
      memref.store %g, %table[%row, %h] : memref<256x64xf32>
    }
  }
  return
}

// An add above the innermost loop would run once for each inner iteration
// in a kernel: the nest stays on the host.
// CHECK-LABEL: func.func @adds_above_the_inner_loop
// CHECK: scf.for
// CHECK-NOT: gpu.launch_func
func.func @adds_above_the_inner_loop(%ids: memref<32xi32>, %table: memref<256x64xf32>, %grad: memref<32x64xf32>, %count: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.0 : f32
  scf.for %m = %c0 to %c32 step %c1 {
    %n = memref.load %count[%m] : memref<32xf32>
    %n1 = arith.addf %n, %one : f32
    memref.store %n1, %count[%m] : memref<32xf32>
    %id = memref.load %ids[%m] : memref<32xi32>
    %row = arith.index_cast %id : i32 to index
    scf.for %h = %c0 to %c64 step %c1 {
      %old = memref.load %table[%row, %h] : memref<256x64xf32>
      %g = memref.load %grad[%m, %h] : memref<32x64xf32>
      %sum = arith.addf %old, %g : f32
      memref.store %sum, %table[%row, %h] : memref<256x64xf32>
    }
  }
  return
}

// The kernel: the thread's iteration delinearised (64 features the fastest),
// the token's row loaded, the gradient's element added atomically.
// CHECK: gpu.func @embedding_grad_0_scatter_add(%[[IDS:.*]]: memref<32xi32>, %[[TABLE:.*]]: memref<256x64xf32>, %[[GRAD:.*]]: memref<32x64xf32>) kernel
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c2048{{.*}} step
// CHECK: %[[H:.*]] = arith.remui %[[I]], %c64
// CHECK: %[[MH:.*]] = arith.divui %[[I]], %c64
// CHECK: %[[ID:.*]] = memref.load %[[IDS]]
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[G:.*]] = memref.load %[[GRAD]]
// CHECK-NOT: memref.store
// CHECK: memref.atomic_rmw addf %[[G]], %[[TABLE]][%[[ROW]], %{{.*}}] : (f32, memref<256x64xf32>) -> f32
// CHECK-NOT: memref.store
// CHECK: gpu.return
