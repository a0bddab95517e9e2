// The emulated launches, defined once the host code is LLVM: the operands
// (a memref spread into its descriptor's fields, and a scalar) go into a
// struct that the entry unpacks for each emulated thread.
// RUN: tetra-opt %s --split-input-file --verify-diagnostics --tetra-emulate-gpu-trampolines | FileCheck %s

module {
  llvm.func @scale_emulated(%alloc: !llvm.ptr, %aligned: !llvm.ptr, %offset: i64, %size: i64, %stride: i64, %factor: f32) {
    llvm.return
  }
  llvm.func @scale_emulated_launch(i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64, f32) attributes {sym_visibility = "private"}
  llvm.func @run(%p: !llvm.ptr, %n: i64, %f: f32) {
    %c1 = llvm.mlir.constant(1 : i64) : i64
    %c32 = llvm.mlir.constant(32 : i64) : i64
    llvm.call @scale_emulated_launch(%c1, %n, %c32, %p, %p, %c1, %n, %c1, %f) : (i64, i64, i64, !llvm.ptr, !llvm.ptr, i64, i64, i64, f32) -> ()
    llvm.return
  }
}
// CHECK: llvm.mlir.global internal constant @scale_emulated_name("scale\00")
// CHECK-LABEL: llvm.func internal @scale_emulated_launch(
// CHECK-SAME: %[[GRID:[^:]*]]: i64, %[[BLOCK:[^:]*]]: i64, %[[WARP:[^:]*]]: i64, %{{[^:]*}}: !llvm.ptr, {{.*}}, %[[F:[^:]*]]: f32)
// CHECK: %[[PACKED:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, ptr, i64, i64, i64, f32)>
// CHECK-COUNT-5: llvm.store
// CHECK: %[[LAST:.*]] = llvm.getelementptr %[[PACKED]][0, 5]
// CHECK: llvm.store %[[F]], %[[LAST]] : f32, !llvm.ptr
// CHECK: %[[ENTRY:.*]] = llvm.mlir.addressof @scale_emulated_entry
// CHECK: %[[NAME:.*]] = llvm.mlir.addressof @scale_emulated_name
// CHECK: llvm.call @tetra_emu_launch(%[[ENTRY]], %[[PACKED]], %[[GRID]], %[[BLOCK]], %[[WARP]], %{{.*}})
// CHECK-LABEL: llvm.func internal @scale_emulated_entry(
// CHECK-COUNT-6: llvm.load
// CHECK: llvm.call @scale_emulated(
// CHECK: llvm.func @tetra_emu_launch(!llvm.ptr, !llvm.ptr, i64, i64, i64, !llvm.ptr)

// -----

module {
  llvm.func @scale_emulated(%factor: f32) {
    llvm.return
  }
  // expected-error @+1 {{does not take scale_emulated's operands}}
  llvm.func @scale_emulated_launch(i64, i64, i64, f64)
}

// -----

module {
  // expected-error @+1 {{has no missing_emulated to launch}}
  llvm.func @missing_emulated_launch(i64, i64, i64)
}
