// The tensor-core GEMM kernels (mma.sync, wgmma, MFMA) on bf16 operands, as `--storage bf16` hands
// them over: each thread stages runs of eight bf16 (16 bytes) along the
// operand's contiguous dimension where its length is a multiple of eight,
// else one element at a time; on NVIDIA the runs along K are asynchronous
// copies. 150 x 136 x 88 with edge blocks both ways;
// A B (A by rows along K, B by columns: runs stored one element a shared
// row), A Bᵀ after a zero fill (both along K), Aᵀ B with Aᵀ 88 x 150 (150
// is not a multiple of eight: one element at a time). The CPU's loops
// multiply the same bf16 values in fp32, so only the order of the fp32 sums
// differs: max |gpu - cpu| <= 1e-5 max |cpu| for each.
//
// RUN: tetra-opt %s --convert-linalg-to-loops --arith-expand=include-bf16=true --lower-affine --convert-scf-to-cf --expand-strided-metadata \
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
// RUN:   %python %S/Inputs/compare_printed_memrefs.py %t.cpu %t.$1.$3.$4 1e-5 || exit 1; done | tee %t.report | FileCheck %s
// CHECK-COUNT-6: memref 0: 20400 values, {{.*}} ok
// CHECK-NOT: FAILED
// The staging really is in runs where it can be. On NVIDIA a run along K
// needs no registers: it is one asynchronous copy into its shared row
// (cp.async), started with the next slice's reads, committed, and waited
// for before the slice's barrier; a run across K still goes through
// registers.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels="gemm-tile=64" | FileCheck %s --check-prefix=RUNS
// RUNS-LABEL: gpu.func @gemm_150x136x88_nn(
// RUNS: nvgpu.device_async_copy %arg0[{{.*}}], %arg3[{{.*}}], 8, %{{.*}} {bypassL1} : memref<150x88xbf16> to memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// RUNS: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<88x136xbf16>, vector<8xbf16>
// RUNS: scf.for
// RUNS: nvgpu.device_async_copy %arg0
// RUNS: vector.load %arg1
// RUNS: nvgpu.device_async_create_group
// RUNS: nvvm.mma.sync
// RUNS: memref.store {{.*}}, %arg4
// RUNS: nvgpu.device_async_wait
// RUNS-NEXT: gpu.barrier
// RUNS-LABEL: gpu.func @gemm_150x136x88_nt_b0(
// RUNS-NOT: vector.load %arg
// RUNS: nvgpu.device_async_copy %arg1[{{.*}}], %arg4[{{.*}}], 8, %{{.*}} {bypassL1} : memref<136x88xbf16> to memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// RUNS-LABEL: gpu.func @gemm_150x136x88_tn(
// RUNS-NOT: vector.load %arg0
// RUNS-NOT: nvgpu.device_async_copy
// RUNS: memref.load %arg0[{{.*}}] : memref<88x150xbf16>
// RUNS: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<88x136xbf16>, vector<8xbf16>
// AMD has no such copy: its runs all go through registers.
// RUN: tetra-opt %s --convert-linalg-to-gpu-kernels="target=rocdl gemm-tile=64" | FileCheck %s --check-prefix=AMD-RUNS
// AMD-RUNS-LABEL: gpu.func @gemm_150x136x88_nn(
// AMD-RUNS-NOT: nvgpu.
// AMD-RUNS: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<150x88xbf16>, vector<8xbf16>
// AMD-RUNS: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<88x136xbf16>, vector<8xbf16>
// AMD-RUNS-LABEL: gpu.func @gemm_150x136x88_nt_b0(
// AMD-RUNS: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<136x88xbf16>, vector<8xbf16>

#mk = affine_map<(i, j, r) -> (i, r)>
#km = affine_map<(i, j, r) -> (r, i)>
#kn = affine_map<(i, j, r) -> (r, j)>
#nk = affine_map<(i, j, r) -> (j, r)>
#mn = affine_map<(i, j, r) -> (i, j)>
func.func private @printMemrefF32(memref<*xf32>)

// A smooth pattern of amplitude 1, sin(f i + g j + phase), written by host
// loops (not a linalg op, so it stays on the host), then rounded to bf16.
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

func.func @rounded(%m: memref<?x?xf32>, %r: memref<?x?xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %m, %c0 : memref<?x?xf32>
  %cols = memref.dim %m, %c1 : memref<?x?xf32>
  scf.for %i = %c0 to %rows step %c1 {
    scf.for %j = %c0 to %cols step %c1 {
      %v = memref.load %m[%i, %j] : memref<?x?xf32>
      %h = arith.truncf %v : f32 to bf16
      memref.store %h, %r[%i, %j] : memref<?x?xbf16>
    }
  }
  return
}

func.func @products(%a: memref<150x88xbf16>, %at: memref<88x150xbf16>, %b: memref<88x136xbf16>,
                    %bt: memref<136x88xbf16>, %c0: memref<150x136xf32>, %c1: memref<150x136xf32>,
                    %c2: memref<150x136xf32>) {
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<150x88xbf16>, memref<88x136xbf16>) outs(%c0 : memref<150x136xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c1 : memref<150x136xf32>)
  linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bt : memref<150x88xbf16>, memref<136x88xbf16>) outs(%c1 : memref<150x136xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%at, %b : memref<88x150xbf16>, memref<88x136xbf16>) outs(%c2 : memref<150x136xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  }
  return
}

// An operand: the pattern, rounded to bf16.
func.func @operand(%phase: f32, %f1: f32, %f2: f32, %r: memref<?x?xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %r, %c0 : memref<?x?xbf16>
  %cols = memref.dim %r, %c1 : memref<?x?xbf16>
  %m = memref.alloc(%rows, %cols) : memref<?x?xf32>
  call @pattern(%m, %phase, %f1, %f2) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @rounded(%m, %r) : (memref<?x?xf32>, memref<?x?xbf16>) -> ()
  memref.dealloc %m : memref<?x?xf32>
  return
}

func.func @main() {
  %a = memref.alloc() : memref<150x88xbf16>
  %at = memref.alloc() : memref<88x150xbf16>
  %b = memref.alloc() : memref<88x136xbf16>
  %bt = memref.alloc() : memref<136x88xbf16>
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
  %da = memref.cast %a : memref<150x88xbf16> to memref<?x?xbf16>
  %dat = memref.cast %at : memref<88x150xbf16> to memref<?x?xbf16>
  %db = memref.cast %b : memref<88x136xbf16> to memref<?x?xbf16>
  %dbt = memref.cast %bt : memref<136x88xbf16> to memref<?x?xbf16>
  %dc0 = memref.cast %c0 : memref<150x136xf32> to memref<?x?xf32>
  %dc1 = memref.cast %c1 : memref<150x136xf32> to memref<?x?xf32>
  %dc2 = memref.cast %c2 : memref<150x136xf32> to memref<?x?xf32>
  call @operand(%p0, %slow, %fast, %da) : (f32, f32, f32, memref<?x?xbf16>) -> ()
  call @operand(%p1, %fast, %slow, %dat) : (f32, f32, f32, memref<?x?xbf16>) -> ()
  call @operand(%p2, %fast, %slow, %db) : (f32, f32, f32, memref<?x?xbf16>) -> ()
  call @operand(%p3, %slow, %fast, %dbt) : (f32, f32, f32, memref<?x?xbf16>) -> ()
  call @pattern(%dc0, %p4, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dc1, %p5, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @pattern(%dc2, %p6, %slow, %fast) : (memref<?x?xf32>, f32, f32, f32) -> ()
  call @products(%a, %at, %b, %bt, %c0, %c1, %c2)
      : (memref<150x88xbf16>, memref<88x150xbf16>, memref<88x136xbf16>, memref<136x88xbf16>,
         memref<150x136xf32>, memref<150x136xf32>, memref<150x136xf32>) -> ()
  %u0 = memref.cast %c0 : memref<150x136xf32> to memref<*xf32>
  %u1 = memref.cast %c1 : memref<150x136xf32> to memref<*xf32>
  %u2 = memref.cast %c2 : memref<150x136xf32> to memref<*xf32>
  call @printMemrefF32(%u0) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u2) : (memref<*xf32>) -> ()
  return
}
