//===- GpuEmulator.h - the host ABI of emulated GPU kernels ----------------===//
//
// What tetra-emulate-gpu-launches makes cooperating kernels call: every
// thread of a block runs `entry(arguments)` as a fiber; ids, barriers and
// warp-wide matrix instructions are these calls. Index operands are int64_t
// (MLIR's index on the host), memrefs arrive as their descriptors' fields.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_GPUEMULATOR_H
#define TETRA_RUNTIME_GPUEMULATOR_H

#include <cstdint>

extern "C" {
/// Runs a `grid` x `block` launch (x only), block after block; `kernel`
/// names it in errors. A barrier some threads skip, or a warp instruction
/// not every lane reaches, ends the process with a message.
void tetra_emu_launch(void (*entry)(void *), void *arguments, int64_t grid, int64_t block,
                      int64_t warpSize, const char *kernel);
int64_t tetra_emu_thread_id();
int64_t tetra_emu_block_id();
int64_t tetra_emu_block_dim();
int64_t tetra_emu_grid_dim();
/// gpu.barrier: waits for every thread of the block.
void tetra_emu_barrier();
/// The running thread reads (writes = 0) or writes `bytes` bytes at
/// `offset` of workgroup buffer `buffer` (of `bufferBytes`), an access the
/// code claims is aligned to `alignment` bytes. Two threads touching a byte
/// between the same barriers, one of them writing, an access outside the
/// buffer, or one off its claimed alignment, ends the process with a
/// message. writes = 2 is an asynchronous copy's destination: written now,
/// and again when the copy lands (the thread's next tetra_emu_async_copy).
void tetra_emu_workgroup_access(int64_t buffer, int64_t bufferBytes, int64_t offset,
                                int64_t bytes, int64_t writes, int64_t alignment);
/// The same for global memory: `bytes` bytes at `address`, `offset` bytes
/// into kernel argument `argument` (for the message). Two blocks of one
/// launch touching a byte, one of them writing, end the process too.
void tetra_emu_global_access(int64_t argument, int64_t offset, int64_t address, int64_t bytes,
                             int64_t writes, int64_t alignment);
/// nvgpu.device_async_copy: starts copying `read` bytes from `source` to
/// `destination`, the rest of `bytes` zeros; they land at the wait that
/// covers the copy's group, and a thread that leaves the kernel with
/// copies no wait covered ends the process.
void tetra_emu_async_copy(int64_t destination, int64_t source, int64_t bytes, int64_t read);
/// nvgpu.device_async_create_group: the thread's copies started since its
/// last commit become its newest group.
void tetra_emu_async_commit();
/// nvgpu.device_async_wait: lands the thread's committed groups but the
/// newest `pending`.
void tetra_emu_async_wait(int64_t pending);
/// gpu.shuffle xor: `value` of lane (lane ^ offset) within segments of
/// `width` lanes (its own when the partner falls outside).
float tetra_emu_shuffle_xor_f32(float value, int32_t offset, int32_t width);
/// nvvm.mma.sync m16n8k16 row.col, bf16 pairs in a..b, f32 c; D is the
/// memref<4xf32> (allocated, aligned, offset, size, stride).
void tetra_emu_mma_sync_m16n8k16_bf16(uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                      uint32_t b0, uint32_t b1, float c0, float c1, float c2,
                                      float c3, float *, float *d, int64_t offset, int64_t,
                                      int64_t);
/// nvgpu.ldmatrix x4 of b16: this lane's row address (16-byte aligned) in,
/// its four 32-bit registers out into the memref<4xf32> D (as bits).
void tetra_emu_ldmatrix_x4_b16(int64_t address, float *, float *d, int64_t offset, int64_t,
                               int64_t);
/// A 1-D memref descriptor of bytes, as MLIR's C interface passes one.
struct TetraEmuBytes {
  int8_t *allocated, *aligned;
  int64_t offset, size, stride;
};
/// The calling thread's workgroup memory for one launch, `bytes` (at most
/// 256 KiB) aligned to 256 KiB, reused by its next launch.
void _mlir_ciface_tetra_emu_workgroup_arena(TetraEmuBytes *result, int64_t bytes);
/// The kernel's workgroup buffer `buffer` lies at `address`, `bytes` long;
/// every thread registers each at entry. wgmma's descriptors name shared
/// memory by its offset in a 256 KiB window, where the buffers must lie.
void tetra_emu_workgroup_buffer(int64_t buffer, int64_t address, int64_t bytes);
/// nvvm.wgmma.mma_async m64nNk16, bf16 A and B both K-major in shared
/// memory (unswizzled descriptors), f32 accumulators: the thread's N / 2
/// accumulators in the memref<?xf32> D, replaced by the results once the
/// thread's warpgroup (128 threads) has met. Its reads of shared memory
/// count for the race check until the thread's wgmma.wait_group covers it.
void tetra_emu_wgmma_m64k16_bf16(uint64_t descriptorA, uint64_t descriptorB, int64_t n, float *,
                                 float *d, int64_t offset, int64_t size, int64_t);
/// nvvm.wgmma.commit.group.sync.aligned: the thread's wgmma since its last
/// commit become its newest group.
void tetra_emu_wgmma_commit();
/// nvvm.wgmma.wait.group.sync.aligned: the thread's committed wgmma groups
/// but the newest `pending` are done.
void tetra_emu_wgmma_wait(int64_t pending);
/// amdgpu.mfma 16x16x16 bf16: four bf16 in each of a and b; D as above.
void tetra_emu_mfma_16x16x16_bf16(uint64_t a, uint64_t b, float c0, float c1, float c2, float c3,
                                  float *, float *d, int64_t offset, int64_t, int64_t);
}

#endif // TETRA_RUNTIME_GPUEMULATOR_H
