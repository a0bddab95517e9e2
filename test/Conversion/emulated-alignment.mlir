// The emulator's race check refuses an access that claims more alignment
// than its workgroup buffer has: without `llvm.align` a buffer of f32 is
// only 4-byte aligned on the GPU, whatever the emulator's allocation is.
//
// RUN: tetra-opt %s -verify-diagnostics --tetra-emulate-gpu-launches

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @claims_too_much(%out: memref<64xf32>) workgroup(%s : memref<64xf32, #gpu.address_space<workgroup>>) kernel {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      // expected-error @+1 {{claims 16-byte alignment in workgroup buffer 0, which is only 4-byte aligned}}
      %w = vector.load %s[%c0] {alignment = 16} : memref<64xf32, #gpu.address_space<workgroup>>, vector<4xf32>
      %x = vector.extract %w[0] : f32 from vector<4xf32>
      gpu.barrier
      memref.store %x, %out[%t] : memref<64xf32>
      gpu.return
    }
  }
  func.func @launch(%out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @kernels::@claims_too_much blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
    return
  }
}
