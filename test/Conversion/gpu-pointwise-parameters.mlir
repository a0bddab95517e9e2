# RUN: %python %s > %t.mlir
# RUN: tetra-opt %t.mlir --convert-linalg-to-gpu-kernels=target=nvvm | FileCheck %s --check-prefix=NVVM
# RUN: tetra-opt %t.mlir --convert-linalg-to-gpu-kernels=target=rocdl | FileCheck %s --check-prefix=ROCDL

# 40 independent copies between 80 buffers of rank 2 (56 bytes of kernel
# parameters each, 4480 in all): one launch on NVIDIA, where PTX ISA 8.1
# lets a kernel take 32764 bytes of parameters; two on AMD, where a set
# ends before its parameters pass 4 KiB (36 copies, 4032 bytes, then 4).

# NVVM-COUNT-1: gpu.launch_func @kernels::@copies_0_pointwise_fused
# NVVM-NOT: gpu.launch_func

# ROCDL: gpu.launch_func @kernels::@copies_0_pointwise_fused
# ROCDL-SAME: %arg70 : memref<4x4xf32>, %arg71 : memref<4x4xf32>)
# ROCDL-NEXT: arith.constant
# ROCDL: gpu.launch_func @kernels::@copies_1_pointwise_fused
# ROCDL-SAME: args(%arg72 : memref<4x4xf32>,
# ROCDL-NOT: gpu.launch_func

copies = 40
args = ", ".join(f"%arg{i}: memref<4x4xf32>" for i in range(2 * copies))
print("func.func @copies(" + args + ") {")
for i in range(copies):
    print(f"  linalg.copy ins(%arg{2 * i} : memref<4x4xf32>) outs(%arg{2 * i + 1} : memref<4x4xf32>)")
print("  return")
print("}")
