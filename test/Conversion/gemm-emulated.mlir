// The tensor-core GEMM kernels (mma.sync, wgmma and MFMA, 64x64 and 128x128
// block tiles), run by the GPU emulator with its race check on shared memory,
// against the CPU's fp32 loops on the same inputs. 150 x 136 x 88: edge
// blocks both ways and three slices of K, the last one partial, so the
// double-buffered staging wraps round its two stages and reads zeros past
// K. Three products: A B onto a bias, A Bᵀ after a zero fill (the kernel
// that stores C without reading it), Aᵀ B onto a bias. bf16 operands, fp32
// sums: max |gpu - cpu| <= 1e-2 max |cpu| for each.
//
// RUN: tetra-opt %s --convert-linalg-to-loops --lower-affine --convert-scf-to-cf --expand-strided-metadata \
// RUN:   --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm --convert-arith-to-llvm \
// RUN:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN: | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so > %t.cpu
// RUN: for config in "nvvm 32 64" "nvvm 32 128" "nvvm 32 64 wgmma" "nvvm 32 128 wgmma" "rocdl 64 64" "rocdl 64 128"; do \
// RUN:   set -- $config; \
// RUN:   tetra-opt %s --convert-linalg-to-gpu-kernels="target=$1 gemm-tile=$3 ${4:+chip=sm_90a gemm-instruction=$4}" --tetra-emulate-gpu-launches=warp-size=$2 \
// RUN:     --arith-expand=include-bf16=true --convert-vector-to-llvm --convert-linalg-to-loops --lower-affine --convert-scf-to-cf \
// RUN:     --expand-strided-metadata --lower-affine --finalize-memref-to-llvm --convert-math-to-llvm --convert-math-to-libm \
// RUN:     --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:     --tetra-emulate-gpu-trampolines \
// RUN:   | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_c_runner_utils.so,%mlir_lib_dir/libmlir_runner_utils.so,%tetra_lib_dir/libtetra_gpu_emulator.so > %t.$1.$3.$4 || exit 1; \
// RUN:   %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.$1.$3.$4 1e-2 || exit 1; done | tee %t.report | FileCheck %s
// CHECK-COUNT-6: memref 0: 20400 values, {{.*}} ok
// CHECK-NOT: FAILED
// The kernels really are the tiled ones: 2 x 2 blocks of 128x128, 3 x 3 of 64x64.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels="gemm-tile=128" | FileCheck %s --check-prefix=LARGE
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels="gemm-tile=64" | FileCheck %s --check-prefix=SMALL
// LARGE: gpu.launch_func @kernels::@gemm_150x136x88_nn blocks in (%c4
// LARGE: gpu.launch_func @kernels::@gemm_150x136x88_nt_b0 blocks in (%c4
// LARGE: gpu.launch_func @kernels::@gemm_150x136x88_tn blocks in (%c4
// SMALL: gpu.launch_func @kernels::@gemm_150x136x88_nn blocks in (%c9

#mk = affine_map<(i, j, r) -> (i, r)>
#km = affine_map<(i, j, r) -> (r, i)>
#kn = affine_map<(i, j, r) -> (r, j)>
#nk = affine_map<(i, j, r) -> (j, r)>
#mn = affine_map<(i, j, r) -> (i, j)>
func.func private @printMemrefF32(memref<*xf32>)

// A smooth pattern of amplitude 1, sin(f i + g j + phase), written by host
// loops (not a linalg op, so it stays on the host). Along K every operand
// has frequency 1.3, so the products add up rather than cancel, and their
// bf16 rounding stays small against the result.
func.func @pattern(%m: memref<?x?xf32>, %phase: f32, %f1: f32, %f2: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %m, %c0 : memref<?x?xf32>
  %cols = memref.dim %m, %c1 : memref<?x?xf32>
  scf.for %i = %c0 to %rows step %c1 {
    scf.for %j = %c0 to %cols step %c1 {
      %ii = arith.index_cast %i : index to i64
      %jj = arith.index_cast %j : index to i64
      %fi = arith.sitofp %ii : i64 to f32
      %fj = arith.sitofp %jj : i64 to f32
      %x = arith.mulf %fi, %f1 : f32
      %y = arith.mulf %fj, %f2 : f32
      %s = arith.addf %x, %y : f32
      %t = arith.addf %s, %phase : f32
      %v = math.sin %t : f32
      memref.store %v, %m[%i, %j] : memref<?x?xf32>
    }
  }
  return
}

func.func @products(%a: memref<150x88xf32>, %at: memref<88x150xf32>, %b: memref<88x136xf32>,
                    %bt: memref<136x88xf32>, %c0: memref<150x136xf32>, %c1: memref<150x136xf32>,
                    %c2: memref<150x136xf32>) {
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<150x88xf32>, memref<88x136xf32>) outs(%c0 : memref<150x136xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c1 : memref<150x136xf32>)
  linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bt : memref<150x88xf32>, memref<136x88xf32>) outs(%c1 : memref<150x136xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%at, %b : memref<88x150xf32>, memref<88x136xf32>) outs(%c2 : memref<150x136xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  return
}

func.func @main() {
  %a = memref.alloc() : memref<150x88xf32>
  %at = memref.alloc() : memref<88x150xf32>
  %b = memref.alloc() : memref<88x136xf32>
  %bt = memref.alloc() : memref<136x88xf32>
  %c0 = memref.alloc() : memref<150x136xf32>
  %c1 = memref.alloc() : memref<150x136xf32>
  %c2 = memref.alloc() : memref<150x136xf32>
  %slow = arith.constant 0.37 : f32
  %fast = arith.constant 1.3 : f32
  %p0 = arith.constant 0.0 : f32
  %p1 = arith.constant 0.5 : f32
  %p2 = arith.constant 1.0 : f32
  %p3 = arith.constant 1.5 : f32
  %p4 = arith.constant 2.0 : f32
  %p5 = arith.constant 2.5 : f32
  %p6 = arith.constant 3.0 : f32
  %da = memref.cast %a : memref<150x88xf32> to memref<?x?xf32>
  %dat = memref.cast %at : memref<88x150xf32> to memref<?x?xf32>
  %db = memref.cast %b : memref<88x136xf32> to memref<?x?xf32>
  %dbt = memref.cast %bt : memref<136x88xf32> to memref<?x?xf32>
  %dc0 = memref.cast %c0 : memref<150x136xf32> to memref<?x?xf32>
  %dc1 = memref.cast %c1 : memref<150x136xf32> to memref<?x?xf32>
  %dc2 = memref.cast %c2 : memref<150x136xf32> to memref<?x?xf32>
  call @pattern(%da, %p0, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dat, %p1, %fast, %slow) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%db, %p2, %fast, %slow) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dbt, %p3, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dc0, %p4, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dc1, %p5, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dc2, %p6, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @products(%a, %at, %b, %bt, %c0, %c1, %c2)
      : (memref<150x88xf32>, memref<88x150xf32>, memref<88x136xf32>, memref<136x88xf32>,
         memref<150x136xf32>, memref<150x136xf32>, memref<150x136xf32>) -> ()
  %u0 = memref.cast %c0 : memref<150x136xf32> to memref<*xf32>
  %u1 = memref.cast %c1 : memref<150x136xf32> to memref<*xf32>
  %u2 = memref.cast %c2 : memref<150x136xf32> to memref<*xf32>
  call @printMemrefF32(%u0) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u2) : (memref<*xf32>) -> ()
  return
}
