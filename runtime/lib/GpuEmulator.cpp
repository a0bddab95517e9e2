//===- GpuEmulator.cpp - GPU kernels whose threads cooperate, on a CPU ----===//
//
// tetra-compile --emulate-gpu turns each kernel whose threads cooperate
// (barriers, warp-wide matrix instructions) into a host function and its
// launch into tetra_emu_launch. Here every thread of a block is a fiber
// (ucontext) on one OS thread: a fiber runs until it reaches a barrier or a
// warp-wide instruction, and the scheduler resumes the others until the
// whole block (or warp) has arrived. Warp-wide matrix instructions are
// computed from the fragments the lanes hold, mapped to matrix elements by
// the layout tables of the PTX ISA (mma.m16n8k16) and AMD's CDNA2 ISA
// (v_mfma_f32_16x16x16bf16_1k): the tables below, written independently of
// the generator's. wgmma, whose four warps meet as one warpgroup, reads its
// operands from shared memory through matrix descriptors, decoded here as
// the PTX ISA describes them. A block whose threads diverge at a barrier, or
// a warp whose lanes do not all reach its instruction, stops the run with a
// message naming the kernel.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/GpuEmulator.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>
#include <ucontext.h>

namespace {

/// Why a fiber is not running.
enum class Wait { Ready, Barrier, Warp, Done };

/// The warp-wide instructions; each has its own operand and result layout.
enum class WarpOp { MmaSyncM16N8K16Bf16, Mfma16x16x16Bf16, ShuffleXor, LdMatrixX4B16, WgmmaM64K16Bf16 };

/// wgmma m64n256k16's fp32 accumulators, the most a thread holds.
constexpr int kMaxAccumulators = 128;
/// Threads of a warpgroup, which issues wgmma together.
constexpr int64_t kWarpgroup = 128;
/// A matrix descriptor's start address field covers this shared window.
constexpr uint64_t kSharedWindow = uint64_t(1) << 18;

/// A wgmma the thread issued: its record in Emulation::wgmmaReads and the
/// thread's group it was committed to (-1 until committed).
struct IssuedWgmma {
  int64_t reads, group;
};

/// An asynchronous copy a thread started (cp.async): its bytes land at the
/// wait that covers its group. `buffer` is the workgroup buffer the race
/// check was told of, or -1.
struct AsyncCopy {
  char *destination;
  const char *source;
  int64_t bytes, read; // the rest of `bytes` after `read` lands as zeros
  int64_t group;       // -1 until committed
  int64_t buffer, offset;
};

/// A thread's asynchronous operations in the groups the PTX ISA counts
/// them in (cp.async.commit_group / wait_group, and wgmma's): each item
/// joins the group its thread commits next, and a wait retires every
/// committed group but the newest few.
template <typename Item> struct Groups {
  std::vector<Item> items; // not yet retired
  int64_t committed = 0;   // groups committed so far

  void commit() {
    for (Item &item : items)
      if (item.group < 0)
        item.group = committed;
    ++committed;
  }
  /// Retires (calls `retire` on) the items of every committed group but
  /// the newest `pending`.
  template <typename Retire> void wait(int64_t pending, Retire retire) {
    std::vector<Item> waiting;
    for (const Item &item : items) {
      if (item.group < 0 || item.group >= committed - pending)
        waiting.push_back(item);
      else
        retire(item);
    }
    items = std::move(waiting);
  }
  void clear() {
    items.clear();
    committed = 0;
  }
};

struct Lane {
  ucontext_t context;
  Wait wait = Wait::Ready;
  WarpOp op{};
  uint32_t operands[10] = {}; // the lane's fragments, as the instruction takes them
  float accumulators[kMaxAccumulators] = {};
  float result[kMaxAccumulators] = {};
  int accumulatorCount = 4;
  Groups<AsyncCopy> copies; // started, not landed
  int64_t reportedBuffer = -1, reportedOffset = 0; // the next copy's destination
  Groups<IssuedWgmma> wgmmas; // issued, not waited for
};

constexpr size_t kStackBytes = 128 * 1024;

/// Who touched one byte since it was last ordered: its last writer, and its
/// readers in the latest barrier interval (epoch) that read it. Epochs are
/// numbered across the launch, a new one with each block and each barrier,
/// so equal epochs mean the same block between the same barriers.
struct ByteUse {
  uint64_t writeEpoch = 0, readEpoch = 0;
  int64_t writer = -1, reader = -1;            // threads
  int64_t writerBlock = -1, firstReadBlock = -1; // global memory only
  bool otherReaders = false;      // more than `reader` read it in readEpoch
  bool readByOtherBlocks = false; // more than `firstReadBlock` read it
  bool writeLanded = false;       // the last write was an asynchronous copy's landing
  // Atomic read-modify-writes (global memory): they race with plain
  // accesses by other threads, never with each other.
  uint64_t atomicEpoch = 0;
  int64_t atomicThread = -1, atomicBlock = -1; // the first in this launch
  bool atomicByOthers = false; // more than `atomicThread` of `atomicBlock`
};

/// A workgroup buffer as the kernel's host function registered it.
struct WorkgroupBuffer {
  uintptr_t address = 0;
  int64_t bytes = 0;
};

/// The shared-memory bytes one wgmma reads (buffer, offset, bytes runs):
/// the tensor cores may read them until every thread of the warpgroup has
/// waited for the wgmma, so the race check counts them as read in every
/// barrier interval until then.
struct WgmmaReads {
  int64_t warpgroup;
  std::vector<std::array<int64_t, 3>> runs;
  int64_t waiting; // threads that have not waited for it
};

struct Emulation {
  void (*entry)(void *) = nullptr;
  void *arguments = nullptr;
  const char *kernel = "";
  int64_t grid = 0, block = 0, threads = 0, warpSize = 32, current = 0;
  std::vector<Lane> lanes;
  ucontext_t scheduler;
  /// A new epoch begins with each block and each barrier: accesses in
  /// different epochs are ordered, those in one epoch are not.
  uint64_t epoch = 0;
  std::vector<std::vector<ByteUse>> workgroup; // per buffer, per byte
  std::unordered_map<uintptr_t, ByteUse> global; // by address, this launch's
  std::vector<WorkgroupBuffer> buffers;          // registered by the host function
  std::vector<WgmmaReads> wgmmaReads;            // this block's
};

thread_local Emulation *active = nullptr;

[[noreturn]] void fail(const Emulation &e, const std::string &what) {
  std::fprintf(stderr, "tetra-run: error: emulated GPU kernel %s, block %lld: %s\n", e.kernel,
               static_cast<long long>(e.block), what.c_str());
  std::fflush(stderr);
  std::exit(1);
}

Emulation &emulation(const char *what) {
  if (!active) {
    std::fprintf(stderr, "tetra-run: error: %s called outside an emulated GPU kernel\n", what);
    std::exit(1);
  }
  return *active;
}

/// The fibers' stacks, kept from launch to launch (only touched pages cost
/// memory).
char *stacks(int64_t threads) {
  static thread_local char *memory = nullptr;
  static thread_local int64_t capacity = 0;
  if (threads > capacity) {
    if (memory)
      munmap(memory, capacity * kStackBytes);
    void *p = mmap(nullptr, threads * kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "tetra-run: error: no memory for %lld emulated GPU threads\n",
                   static_cast<long long>(threads));
      std::exit(1);
    }
    memory = static_cast<char *>(p);
    capacity = threads;
  }
  return memory;
}

void runThread() {
  Emulation &e = *active;
  e.entry(e.arguments);
  Lane &lane = e.lanes[e.current];
  if (!lane.copies.items.empty())
    fail(e, "thread " + std::to_string(e.current) + " left the kernel with " +
                std::to_string(lane.copies.items.size()) +
                " asynchronous copies that no wait covered");
  if (!lane.wgmmas.items.empty())
    fail(e, "thread " + std::to_string(e.current) + " left the kernel with " +
                std::to_string(lane.wgmmas.items.size()) +
                " wgmma.mma_async that no wgmma.wait_group covered");
  lane.wait = Wait::Done;
  // Returning resumes uc_link, the scheduler.
}

/// Suspends the running fiber until the scheduler releases it.
void suspend(Emulation &e, Wait why) {
  Lane &lane = e.lanes[e.current];
  lane.wait = why;
  swapcontext(&lane.context, &e.scheduler);
}

float fromBf16(uint32_t bits) {
  uint32_t word = bits << 16;
  float f;
  std::memcpy(&f, &word, sizeof f);
  return f;
}

/// Half `h` (0: low) of a 32-bit register holding two bf16.
float half(uint32_t reg, int h) { return fromBf16((reg >> (16 * h)) & 0xffff); }

/// D = A B + C over fp32, for an m x n x k product with A, B and C gathered
/// from the lanes.
template <int M, int N, int K>
void multiply(const float (&a)[M][K], const float (&b)[K][N], float (&c)[M][N]) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = c[i][j];
      for (int r = 0; r < K; ++r)
        sum += a[i][r] * b[r][j];
      c[i][j] = sum;
    }
}

/// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (PTX ISA, "Matrix
/// Fragments for mma.m16n8k16 with floating point type"): with
/// group = lane / 4 and t = lane % 4,
///   A (16x16), element a_i of registers a0..a3 (two per register, low
///   first): row group + 8 * ((i / 2) % 2), column 2t + (i % 2) + 8 * (i / 4);
///   B (16x8), b_i of b0, b1: row 2t + (i % 2) + 8 * (i / 2), column group;
///   C, D (16x8), c_i: row group + 8 * (i / 2), column 2t + (i % 2).
void mmaSyncM16N8K16(Lane *warp) {
  float a[16][16], b[16][8], c[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    int group = lane / 4, t = lane % 4;
    const Lane &l = warp[lane];
    for (int i = 0; i < 8; ++i)
      a[group + 8 * ((i / 2) % 2)][2 * t + i % 2 + 8 * (i / 4)] = half(l.operands[i / 2], i % 2);
    for (int i = 0; i < 4; ++i)
      b[2 * t + i % 2 + 8 * (i / 2)][group] = half(l.operands[4 + i / 2], i % 2);
    for (int i = 0; i < 4; ++i)
      c[group + 8 * (i / 2)][2 * t + i % 2] = l.accumulators[i];
  }
  multiply(a, b, c);
  for (int lane = 0; lane < 32; ++lane) {
    int group = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i)
      warp[lane].result[i] = c[group + 8 * (i / 2)][2 * t + i % 2];
  }
}

/// v_mfma_f32_16x16x16bf16_1k (AMD CDNA2 ISA, dense matrix layouts, one
/// block): lane l holds A[l % 16][4 (l / 16) + i] and B[4 (l / 16) + i][l % 16]
/// as four bf16 (element i in bits 16i..16i+15), and C, D[4 (l / 16) + i][l % 16].
void mfma16x16x16(Lane *wave) {
  float a[16][16], b[16][16], c[16][16];
  for (int lane = 0; lane < 64; ++lane) {
    const Lane &l = wave[lane];
    int rowOrCol = lane % 16, k0 = 4 * (lane / 16);
    for (int i = 0; i < 4; ++i) {
      a[rowOrCol][k0 + i] = half(l.operands[i / 2], i % 2);
      b[k0 + i][rowOrCol] = half(l.operands[2 + i / 2], i % 2);
      c[k0 + i][rowOrCol] = l.accumulators[i];
    }
  }
  multiply(a, b, c);
  for (int lane = 0; lane < 64; ++lane)
    for (int i = 0; i < 4; ++i)
      wave[lane].result[i] = c[4 * (lane / 16) + i][lane % 16];
}

const char *name(WarpOp op) {
  switch (op) {
  case WarpOp::MmaSyncM16N8K16Bf16:
    return "mma.sync.m16n8k16";
  case WarpOp::Mfma16x16x16Bf16:
    return "v_mfma_f32_16x16x16bf16_1k";
  case WarpOp::ShuffleXor:
    return "gpu.shuffle xor";
  case WarpOp::LdMatrixX4B16:
    return "ldmatrix.x4.b16";
  case WarpOp::WgmmaM64K16Bf16:
    return "wgmma.mma_async.m64nNk16";
  }
  return "?";
}

/// Every lane gets the value of lane ^ offset (operands: the value's bits,
/// the offset, the width), or its own where the partner is outside its
/// segment of `width` lanes.
void shuffleXor(Lane *warp, int64_t lanes) {
  for (int64_t lane = 0; lane < lanes; ++lane) {
    uint32_t offset = warp[lane].operands[1], width = warp[lane].operands[2];
    int64_t partner = lane ^ offset;
    bool inside = width > 0 && partner < lanes && partner / width == lane / width;
    uint32_t bits = warp[inside ? partner : lane].operands[0];
    std::memcpy(&warp[lane].result[0], &bits, sizeof bits);
  }
}

/// ldmatrix.sync.aligned.m8n8.x4.b16 (PTX ISA, "Warp-level matrix load
/// instruction"): lanes 8j..8j+7 give the addresses of rows 0..7 of matrix
/// j (16 bytes each); lane l receives, in register j, the 32 bits of matrix
/// j's row l / 4 from byte 4 (l % 4). Operands: the lane's row address.
void ldMatrixX4(Lane *warp) {
  for (int lane = 0; lane < 32; ++lane)
    for (int j = 0; j < 4; ++j) {
      const Lane &source = warp[8 * j + lane / 4];
      uint64_t address = source.operands[0] | (uint64_t(source.operands[1]) << 32);
      std::memcpy(&warp[lane].result[j], reinterpret_cast<const char *>(address) + 4 * (lane % 4),
                  4);
    }
}

void wgmmaM64K16(Emulation &e, Lane *group, int64_t warpgroup);
void recordWgmmaReads(Emulation &e, const WgmmaReads &reads);

/// Completes the wgmma every thread of a warpgroup has reached; true when
/// one was.
bool releaseWarpgroups(Emulation &e) {
  bool released = false;
  for (int64_t first = 0; first < e.threads; first += kWarpgroup) {
    Lane *group = &e.lanes[first];
    int64_t width = std::min(kWarpgroup, e.threads - first), arrived = 0;
    for (int64_t l = 0; l < width; ++l)
      arrived += group[l].wait == Wait::Warp && group[l].op == WarpOp::WgmmaM64K16Bf16;
    if (arrived == 0)
      continue;
    for (int64_t l = 0; l < width; ++l)
      if (group[l].wait == Wait::Done)
        fail(e, "the threads of warpgroup " + std::to_string(first / kWarpgroup) +
                    " diverge at " + name(WarpOp::WgmmaM64K16Bf16) + " (" +
                    std::to_string(arrived) + " of " + std::to_string(width) +
                    " threads reached it)");
    if (arrived < width)
      continue;
    if (width != kWarpgroup || e.warpSize != 32)
      fail(e, std::string(name(WarpOp::WgmmaM64K16Bf16)) +
                  " needs warpgroups of four 32-lane warps; the block has " +
                  std::to_string(e.threads) + " threads in warps of " +
                  std::to_string(e.warpSize));
    wgmmaM64K16(e, group, first / kWarpgroup);
    for (int64_t l = 0; l < width; ++l)
      group[l].wait = Wait::Ready;
    released = true;
  }
  return released;
}

/// Completes the warp-wide instructions and the barrier every participant
/// has reached; true when some fiber can run again.
bool release(Emulation &e) {
  bool released = releaseWarpgroups(e);
  for (int64_t first = 0; first < e.threads; first += e.warpSize) {
    Lane *warp = &e.lanes[first];
    int64_t width = std::min(e.warpSize, e.threads - first), arrived = 0;
    const Lane *arrivedFirst = nullptr;
    for (int64_t l = 0; l < width; ++l)
      if (warp[l].wait == Wait::Warp) {
        ++arrived;
        if (!arrivedFirst)
          arrivedFirst = &warp[l];
      }
    if (arrived == 0)
      continue;
    WarpOp op = arrivedFirst->op;
    for (int64_t l = 0; l < width; ++l) {
      if (warp[l].wait == Wait::Done || (warp[l].wait == Wait::Warp && warp[l].op != op))
        fail(e, "the lanes of warp " + std::to_string(first / e.warpSize) + " diverge at " +
                    name(op) + " (" + std::to_string(arrived) + " of " + std::to_string(width) +
                    " lanes reached it)");
    }
    // A warpgroup's instruction waits for the other warps of its group.
    if (arrived < width || op == WarpOp::WgmmaM64K16Bf16)
      continue;
    if (op == WarpOp::ShuffleXor) {
      shuffleXor(warp, width);
    } else {
      int64_t needed = op == WarpOp::Mfma16x16x16Bf16 ? 64 : 32;
      if (width != needed)
        fail(e, std::string(name(op)) + " needs " + std::to_string(needed) +
                    " lanes, the warp has " + std::to_string(width));
      if (op == WarpOp::MmaSyncM16N8K16Bf16)
        mmaSyncM16N8K16(warp);
      else if (op == WarpOp::LdMatrixX4B16)
        ldMatrixX4(warp);
      else
        mfma16x16x16(warp);
    }
    for (int64_t l = 0; l < width; ++l)
      warp[l].wait = Wait::Ready;
    released = true;
  }
  int64_t atBarrier = 0, done = 0;
  for (const Lane &l : e.lanes) {
    atBarrier += l.wait == Wait::Barrier;
    done += l.wait == Wait::Done;
  }
  if (atBarrier > 0 && atBarrier + done == e.threads) {
    if (done > 0)
      fail(e, std::to_string(atBarrier) + " threads wait at a barrier that " +
                  std::to_string(done) + " threads left the kernel without reaching");
    for (Lane &l : e.lanes)
      l.wait = Wait::Ready;
    ++e.epoch;
    // wgmma not yet waited for may still read in the new interval.
    for (const WgmmaReads &reads : e.wgmmaReads)
      if (reads.waiting > 0)
        recordWgmmaReads(e, reads);
    released = true;
  }
  return released;
}

void runBlock(Emulation &e) {
  ++e.epoch;
  e.wgmmaReads.clear();
  char *stack = stacks(e.threads);
  for (int64_t t = 0; t < e.threads; ++t) {
    Lane &lane = e.lanes[t];
    lane.wait = Wait::Ready;
    lane.copies.clear();
    lane.reportedBuffer = -1;
    lane.wgmmas.clear();
    getcontext(&lane.context);
    lane.context.uc_stack.ss_sp = stack + t * kStackBytes;
    lane.context.uc_stack.ss_size = kStackBytes;
    lane.context.uc_link = &e.scheduler;
    makecontext(&lane.context, runThread, 0);
  }
  for (;;) {
    bool ran = false;
    for (int64_t t = 0; t < e.threads; ++t) {
      if (e.lanes[t].wait != Wait::Ready)
        continue;
      e.current = t;
      swapcontext(&e.scheduler, &e.lanes[t].context);
      ran = true;
    }
    bool allDone = true;
    for (const Lane &l : e.lanes)
      allDone &= l.wait == Wait::Done;
    if (allDone)
      return;
    if (!release(e) && !ran)
      fail(e, "its threads wait for each other at different barriers");
  }
}

/// A warp-wide instruction: the lane's fragments go in, the scheduler
/// computes the whole warp's once every lane has arrived.
void warpInstruction(WarpOp op, const uint32_t *operands, int count, const float *accumulators,
                     float *result, int accumulatorCount = 4) {
  Emulation &e = emulation(name(op));
  Lane &lane = e.lanes[e.current];
  lane.op = op;
  std::memcpy(lane.operands, operands, count * sizeof(uint32_t));
  lane.accumulatorCount = accumulatorCount;
  std::memcpy(lane.accumulators, accumulators, accumulatorCount * sizeof(float));
  suspend(e, Wait::Warp);
  std::memcpy(result, e.lanes[e.current].result, accumulatorCount * sizeof(float));
}

} // namespace

extern "C" void tetra_emu_launch(void (*entry)(void *), void *arguments, int64_t grid,
                                 int64_t block, int64_t warpSize, const char *kernel) {
  Emulation e;
  e.entry = entry;
  e.arguments = arguments;
  e.kernel = kernel;
  e.grid = grid;
  e.threads = block;
  e.warpSize = warpSize;
  e.lanes.resize(block);
  Emulation *outer = active;
  if (outer)
    fail(*outer, "launches a kernel from a kernel");
  active = &e;
  for (e.block = 0; e.block < grid; ++e.block)
    runBlock(e);
  active = nullptr;
}

extern "C" int64_t tetra_emu_thread_id() { return emulation("gpu.thread_id").current; }
extern "C" int64_t tetra_emu_block_id() { return emulation("gpu.block_id").block; }
extern "C" int64_t tetra_emu_block_dim() { return emulation("gpu.block_dim").threads; }
extern "C" int64_t tetra_emu_grid_dim() { return emulation("gpu.grid_dim").grid; }

extern "C" void tetra_emu_barrier() {
  Emulation &e = emulation("gpu.barrier");
  suspend(e, Wait::Barrier);
}

extern "C" float tetra_emu_shuffle_xor_f32(float value, int32_t offset, int32_t width) {
  uint32_t operands[3];
  std::memcpy(&operands[0], &value, sizeof value);
  operands[1] = static_cast<uint32_t>(offset);
  operands[2] = static_cast<uint32_t>(width);
  const float none[4] = {};
  float result[4];
  warpInstruction(WarpOp::ShuffleXor, operands, 3, none, result);
  return result[0];
}

extern "C" void tetra_emu_mma_sync_m16n8k16_bf16(uint32_t a0, uint32_t a1, uint32_t a2,
                                                 uint32_t a3, uint32_t b0, uint32_t b1, float c0,
                                                 float c1, float c2, float c3, float *, float *d,
                                                 int64_t offset, int64_t, int64_t) {
  const uint32_t operands[6] = {a0, a1, a2, a3, b0, b1};
  const float c[4] = {c0, c1, c2, c3};
  warpInstruction(WarpOp::MmaSyncM16N8K16Bf16, operands, 6, c, d + offset);
}

extern "C" void tetra_emu_ldmatrix_x4_b16(int64_t address, float *, float *d, int64_t offset,
                                          int64_t, int64_t) {
  if (address % 16)
    fail(emulation("ldmatrix"), "ldmatrix row address " + std::to_string(address) +
                                    " is not 16-byte aligned");
  const uint32_t operands[2] = {static_cast<uint32_t>(address),
                                static_cast<uint32_t>(static_cast<uint64_t>(address) >> 32)};
  const float none[4] = {};
  warpInstruction(WarpOp::LdMatrixX4B16, operands, 2, none, d + offset);
}

extern "C" void tetra_emu_mfma_16x16x16_bf16(uint64_t a, uint64_t b, float c0, float c1, float c2,
                                             float c3, float *, float *d, int64_t offset, int64_t,
                                             int64_t) {
  const uint32_t operands[4] = {static_cast<uint32_t>(a), static_cast<uint32_t>(a >> 32),
                                static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32)};
  const float c[4] = {c0, c1, c2, c3};
  warpInstruction(WarpOp::Mfma16x16x16Bf16, operands, 4, c, d + offset);
}

namespace {

/// Checks an access by the running thread to `bytes` bytes from `offset`
/// of `memory` (named so in errors; `useAt(i)` is byte offset + i's record)
/// against what touched them before, then records it. In workgroup memory
/// (acrossBlocks false) only threads between the same barriers conflict,
/// since each block has its own; in global memory any two blocks of the
/// launch do too.
template <typename UseAt>
void recordAccess(Emulation &e, const std::string &memory, int64_t offset, int64_t bytes,
                  bool writes, bool acrossBlocks, UseAt useAt, bool lands = false,
                  bool atomic = false) {
  auto where = [&](int64_t at) {
    return "byte " + std::to_string(offset + at) + " of " + memory;
  };
  int64_t thread = e.current, block = e.block;
  const char *verb = lands     ? "lands an asynchronous copy on"
                     : atomic  ? "atomically updates"
                     : writes  ? "writes"
                               : "reads";
  auto who = [&](int64_t t, int64_t b) {
    if (t < 0)
      return std::string("another thread");
    if (t >= e.threads) // recordWgmmaReads's stand-in for the tensor cores
      return "the wgmma of warpgroup " + std::to_string(t - e.threads);
    return "thread " + std::to_string(t) +
           (acrossBlocks ? " of block " + std::to_string(b) : std::string());
  };
  auto race = [&](int64_t at, const std::string &them, const char *theirs, const char *unordered) {
    fail(e, "threads race on " + where(at) + ": " + who(thread, block) + " " + verb + " what " +
                them + " " + theirs + " " + unordered);
  };
  for (int64_t at = 0; at < bytes; ++at) {
    ByteUse &use = useAt(at);
    bool written = use.writer >= 0, read = use.reader >= 0;
    // A plain access beside another thread's atomic update: in another
    // block at all, in this one between the same barriers.
    if (!atomic && use.atomicThread >= 0 &&
        ((acrossBlocks && use.atomicBlock != block) ||
         (use.atomicEpoch == e.epoch && (use.atomicThread != thread || use.atomicByOthers))))
      race(at,
           use.atomicThread != thread || use.atomicBlock != block
               ? who(use.atomicThread, use.atomicBlock)
               : std::string("another thread"),
           "updated atomically", "in the same launch");
    if (acrossBlocks && written && use.writerBlock != block)
      race(at, who(use.writer, use.writerBlock), "wrote", "in the same launch");
    if (written && use.writeEpoch == e.epoch && use.writer != thread)
      race(at, use.writeLanded ? "an asynchronous copy of " + who(use.writer, block)
                               : who(use.writer, block),
           use.writeLanded ? "landed" : "wrote", "with no barrier between");
    if (writes && acrossBlocks && read && (use.readByOtherBlocks || use.firstReadBlock != block))
      race(at, use.firstReadBlock != block ? who(use.reader, use.firstReadBlock)
                                           : std::string("another block"),
           "read", "in the same launch");
    if (writes && read && use.readEpoch == e.epoch && (use.reader != thread || use.otherReaders))
      race(at, use.reader != thread ? who(use.reader, block) : std::string("another thread"),
           "read", "with no barrier between");
    if (atomic) {
      // Checked as a write against plain accesses above; recorded apart.
      if (use.atomicThread < 0) {
        use.atomicThread = thread;
        use.atomicBlock = block;
      } else if (use.atomicThread != thread || use.atomicBlock != block) {
        use.atomicByOthers = true;
      }
      use.atomicEpoch = e.epoch;
      continue;
    }
    if (writes) {
      use.writeEpoch = e.epoch;
      use.writer = thread;
      use.writerBlock = block;
      use.writeLanded = lands;
      continue;
    }
    if (use.firstReadBlock < 0)
      use.firstReadBlock = block;
    else if (use.firstReadBlock != block)
      use.readByOtherBlocks = true;
    if (use.readEpoch != e.epoch) {
      use.readEpoch = e.epoch;
      use.reader = thread;
      use.otherReaders = false;
    } else if (use.reader != thread) {
      use.otherReaders = true;
    }
  }
}

/// How the race check's messages name workgroup buffer `buffer`.
std::string workgroupName(int64_t buffer) { return "workgroup buffer " + std::to_string(buffer); }

/// tetra_emu_workgroup_access's `writes` for an asynchronous copy's
/// destination, which writes again when the copy lands.
constexpr int64_t kWritesAsynchronously = 2;
/// tetra_emu_global_access's `writes` for an atomic read-modify-write.
constexpr int64_t kAtomic = 3;

/// Stops the run where an access is off the alignment its code claims
/// (a GPU faults or splits it; the CPU would not notice).
void checkAlignment(Emulation &e, const std::string &memory, int64_t offset, int64_t address,
                    int64_t bytes, bool writes, int64_t alignment) {
  if (alignment > 1 && address % alignment != 0)
    fail(e, "thread " + std::to_string(e.current) + (writes ? " writes " : " reads ") +
                std::to_string(bytes) + " bytes at byte " + std::to_string(offset) + " of " +
                memory + " as " + std::to_string(alignment) +
                "-byte aligned, but they are not (address " + std::to_string(address) + ")");
}

} // namespace

namespace {

/// The race check's record of workgroup buffer `buffer` (of `bytes`).
std::vector<ByteUse> &workgroupUses(Emulation &e, int64_t buffer, int64_t bytes) {
  if (static_cast<int64_t>(e.workgroup.size()) <= buffer)
    e.workgroup.resize(buffer + 1);
  std::vector<ByteUse> &uses = e.workgroup[buffer];
  if (static_cast<int64_t>(uses.size()) < bytes)
    uses.resize(bytes);
  return uses;
}

/// Counts the bytes a wgmma reads as read, in this barrier interval, by a
/// thread of their own (numbered past the block's), so that a write by any
/// thread in the same interval races with them.
void recordWgmmaReads(Emulation &e, const WgmmaReads &reads) {
  int64_t running = e.current;
  e.current = e.threads + reads.warpgroup;
  for (auto [buffer, offset, bytes] : reads.runs) {
    std::vector<ByteUse> &uses = workgroupUses(e, buffer, e.buffers[buffer].bytes);
    recordAccess(e, workgroupName(buffer), offset, bytes, /*writes=*/false,
                 /*acrossBlocks=*/false,
                 [&](int64_t at) -> ByteUse & { return uses[offset + at]; });
  }
  e.current = running;
}

/// A wgmma operand in shared memory, as its matrix descriptor gives it
/// (PTX ISA, "Matrix Descriptor Format"): bits 0-13 the start address,
/// 16-29 the leading dimension byte offset, 32-45 the stride dimension byte
/// offset, each >> 4; 49-51 the base offset; 62-63 the swizzle mode.
struct MatrixDescriptor {
  uint64_t start, leading, stride;
};

MatrixDescriptor decode(Emulation &e, uint64_t bits, const char *operand) {
  uint64_t baseOffset = (bits >> 49) & 7, swizzle = bits >> 62;
  if (baseOffset || swizzle)
    fail(e, std::string("wgmma's ") + operand + " descriptor has swizzle mode " +
                std::to_string(swizzle) + " and base offset " + std::to_string(baseOffset) +
                "; the emulator reads unswizzled operands only");
  return {(bits & 0x3fff) << 4, ((bits >> 16) & 0x3fff) << 4, ((bits >> 32) & 0x3fff) << 4};
}

/// The 16 bytes (8 bf16) of row `row`, K from 8 `half` on, of a K-major
/// operand without swizzling (PTX ISA, "Shared Memory Matrix Layout"):
/// core matrices of 8 rows x 16 bytes, 128 contiguous bytes each; the
/// leading byte offset steps to the next along K, the stride byte offset
/// to the next 8 rows. Recorded in `reads` for the race check.
const char *coreMatrixRow(Emulation &e, const MatrixDescriptor &d, int64_t row, int64_t half,
                          const char *operand, WgmmaReads &reads) {
  if (e.buffers.empty())
    fail(e, "wgmma reads shared memory, but the kernel registered no workgroup buffers");
  uint64_t inWindow = d.start + (row / 8) * d.stride + half * d.leading + (row % 8) * 16;
  uintptr_t window = e.buffers[0].address & ~(kSharedWindow - 1);
  uintptr_t address = window + inWindow;
  for (size_t b = 0; b < e.buffers.size(); ++b) {
    const WorkgroupBuffer &buffer = e.buffers[b];
    if (address >= buffer.address && address + 16 <= buffer.address + buffer.bytes) {
      reads.runs.push_back({static_cast<int64_t>(b),
                            static_cast<int64_t>(address - buffer.address), 16});
      return reinterpret_cast<const char *>(address);
    }
  }
  fail(e, std::string("wgmma's ") + operand + " reads 16 bytes at shared address " +
              std::to_string(inWindow) + " (row " + std::to_string(row) + ", K " +
              std::to_string(8 * half) + "), outside every workgroup buffer");
}

/// wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16, A and B both
/// K-major in shared memory (PTX ISA, "Asynchronous Warpgroup Level Matrix
/// Multiply-Accumulate"): D (64 x N) = A (64 x 16) B (16 x N) + D, B given
/// as its N x 16 transpose. Accumulators (register fragments of D for
/// .m64nNk16): thread l of warp w of the warpgroup holds d_i at row
/// 16 w + l / 4 + 8 ((i / 2) % 2), column 8 (i / 4) + 2 (l % 4) + i % 2.
/// Operands: descriptor A (low, high), descriptor B (low, high), N. The
/// product is computed when the warpgroup meets; its reads count until
/// every thread has waited for it.
void wgmmaM64K16(Emulation &e, Lane *group, int64_t warpgroup) {
  for (int64_t l = 1; l < kWarpgroup; ++l)
    if (std::memcmp(group[l].operands, group[0].operands, 5 * sizeof(uint32_t)))
      fail(e, "the threads of warpgroup " + std::to_string(warpgroup) +
                  " give wgmma different descriptors or shapes (threads " +
                  std::to_string(warpgroup * kWarpgroup) + " and " +
                  std::to_string(warpgroup * kWarpgroup + l) + ")");
  const uint32_t *op = group[0].operands;
  int64_t n = op[4];
  if (n < 8 || n > 256 || n % 8 || group[0].accumulatorCount != n / 2)
    fail(e, "wgmma m64n" + std::to_string(n) + "k16 with " +
                std::to_string(group[0].accumulatorCount) + " accumulators a thread");
  MatrixDescriptor da = decode(e, op[0] | (uint64_t(op[1]) << 32), "A");
  MatrixDescriptor db = decode(e, op[2] | (uint64_t(op[3]) << 32), "B");
  WgmmaReads reads{warpgroup, {}, kWarpgroup};
  std::vector<std::array<float, 16>> a(64), b(n);
  auto load = [&](std::vector<std::array<float, 16>> &m, const MatrixDescriptor &d,
                  const char *operand) {
    for (int64_t row = 0; row < static_cast<int64_t>(m.size()); ++row)
      for (int64_t half = 0; half < 2; ++half) {
        const char *bytes = coreMatrixRow(e, d, row, half, operand, reads);
        for (int64_t i = 0; i < 8; ++i) {
          uint16_t bits;
          std::memcpy(&bits, bytes + 2 * i, sizeof bits);
          m[row][8 * half + i] = fromBf16(bits);
        }
      }
  };
  load(a, da, "A");
  load(b, db, "B");
  for (int64_t t = 0; t < kWarpgroup; ++t) {
    int64_t warp = t / 32, l = t % 32;
    Lane &lane = group[t];
    for (int64_t i = 0; i < n / 2; ++i) {
      int64_t row = 16 * warp + l / 4 + 8 * ((i / 2) % 2);
      int64_t col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
      float sum = lane.accumulators[i];
      for (int64_t k = 0; k < 16; ++k)
        sum += a[row][k] * b[col][k];
      lane.result[i] = sum;
    }
  }
  recordWgmmaReads(e, reads);
  int64_t id = static_cast<int64_t>(e.wgmmaReads.size());
  e.wgmmaReads.push_back(std::move(reads));
  for (int64_t t = 0; t < kWarpgroup; ++t)
    group[t].wgmmas.items.push_back({id, -1});
}

} // namespace

extern "C" void tetra_emu_workgroup_access(int64_t buffer, int64_t bufferBytes, int64_t offset,
                                           int64_t bytes, int64_t writes, int64_t alignment) {
  Emulation &e = emulation("a workgroup memory access");
  std::string memory = workgroupName(buffer);
  if (offset < 0 || offset + bytes > bufferBytes)
    fail(e, "thread " + std::to_string(e.current) + (writes ? " writes " : " reads ") +
                std::to_string(bytes) + " bytes at byte " + std::to_string(offset) + " of " +
                memory + ", which has " + std::to_string(bufferBytes));
  // Workgroup buffers start at least 16-byte aligned (llvm.align where
  // their code needs it), so the offset stands for the address.
  checkAlignment(e, memory, offset, offset, bytes, writes != 0, alignment);
  std::vector<ByteUse> &uses = workgroupUses(e, buffer, bufferBytes);
  recordAccess(e, memory, offset, bytes, writes != 0, /*acrossBlocks=*/false,
               [&](int64_t at) -> ByteUse & { return uses[offset + at]; });
  if (writes == kWritesAsynchronously) {
    e.lanes[e.current].reportedBuffer = buffer;
    e.lanes[e.current].reportedOffset = offset;
  }
}

extern "C" void tetra_emu_async_copy(int64_t destination, int64_t source, int64_t bytes,
                                     int64_t read) {
  Emulation &e = emulation("nvgpu.device_async_copy");
  Lane &lane = e.lanes[e.current];
  if (read < 0 || read > bytes)
    fail(e, "thread " + std::to_string(e.current) + " copies " + std::to_string(read) +
                " bytes of an asynchronous copy of " + std::to_string(bytes));
  lane.copies.items.push_back({reinterpret_cast<char *>(destination),
                         reinterpret_cast<const char *>(source), bytes, read, -1,
                         lane.reportedBuffer, lane.reportedOffset});
  lane.reportedBuffer = -1;
}

extern "C" void tetra_emu_async_commit() {
  Emulation &e = emulation("nvgpu.device_async_create_group");
  e.lanes[e.current].copies.commit();
}

/// Lands the thread's copies of every committed group but the newest
/// `pending`; each writes its bytes now, as far as the race check goes.
extern "C" void tetra_emu_async_wait(int64_t pending) {
  Emulation &e = emulation("nvgpu.device_async_wait");
  e.lanes[e.current].copies.wait(pending, [&](const AsyncCopy &copy) {
    std::memcpy(copy.destination, copy.source, copy.read);
    std::memset(copy.destination + copy.read, 0, copy.bytes - copy.read);
    if (copy.buffer >= 0) {
      std::vector<ByteUse> &uses = e.workgroup[copy.buffer];
      recordAccess(e, workgroupName(copy.buffer), copy.offset, copy.bytes,
                   /*writes=*/true, /*acrossBlocks=*/false,
                   [&](int64_t at) -> ByteUse & { return uses[copy.offset + at]; },
                   /*lands=*/true);
    }
  });
}

extern "C" void tetra_emu_global_access(int64_t argument, int64_t offset, int64_t address,
                                        int64_t bytes, int64_t writes, int64_t alignment) {
  Emulation &e = emulation("a global memory access");
  std::string memory = "kernel argument " + std::to_string(argument);
  checkAlignment(e, memory, offset, address, bytes, writes != 0, alignment);
  recordAccess(
      e, memory, offset, bytes, writes != 0,
      /*acrossBlocks=*/true,
      [&](int64_t at) -> ByteUse & { return e.global[static_cast<uintptr_t>(address + at)]; },
      /*lands=*/false, /*atomic=*/writes == kAtomic);
}

extern "C" void tetra_emu_workgroup_buffer(int64_t buffer, int64_t address, int64_t bytes) {
  Emulation &e = emulation("a workgroup buffer's registration");
  if (buffer < 0 || bytes < 0)
    fail(e, "workgroup buffer " + std::to_string(buffer) + " of " + std::to_string(bytes) +
                " bytes");
  if (static_cast<int64_t>(e.buffers.size()) <= buffer)
    e.buffers.resize(buffer + 1);
  e.buffers[buffer] = {static_cast<uintptr_t>(address), bytes};
  // Descriptors name shared memory by its offset in one 256 KiB window.
  auto window = [](const WorkgroupBuffer &b) { return b.address & ~(kSharedWindow - 1); };
  for (const WorkgroupBuffer &other : e.buffers)
    if (other.bytes > 0 &&
        (window(other) != window(e.buffers[buffer]) ||
         (other.address + other.bytes - 1) / kSharedWindow != other.address / kSharedWindow))
      fail(e, "workgroup buffers " + std::to_string(buffer) +
                  " and others do not lie in one 256 KiB window of shared memory");
}

extern "C" void tetra_emu_wgmma_m64k16_bf16(uint64_t descriptorA, uint64_t descriptorB,
                                            int64_t n, float *, float *d, int64_t offset,
                                            int64_t size, int64_t) {
  Emulation &e = emulation(name(WarpOp::WgmmaM64K16Bf16));
  if (n < 8 || n > 256 || n % 8 || size < n / 2)
    fail(e, "wgmma m64n" + std::to_string(n) + "k16 is emulated for N a multiple of 8 up to "
            "256, with N / 2 accumulators a thread (" + std::to_string(size) + " given)");
  const uint32_t operands[5] = {static_cast<uint32_t>(descriptorA),
                                static_cast<uint32_t>(descriptorA >> 32),
                                static_cast<uint32_t>(descriptorB),
                                static_cast<uint32_t>(descriptorB >> 32),
                                static_cast<uint32_t>(n)};
  warpInstruction(WarpOp::WgmmaM64K16Bf16, operands, 5, d + offset, d + offset,
                  static_cast<int>(n / 2));
}

extern "C" void tetra_emu_wgmma_commit() {
  Emulation &e = emulation("wgmma.commit_group");
  e.lanes[e.current].wgmmas.commit();
}

extern "C" void tetra_emu_wgmma_wait(int64_t pending) {
  Emulation &e = emulation("wgmma.wait_group");
  e.lanes[e.current].wgmmas.wait(
      pending, [&](const IssuedWgmma &issued) { --e.wgmmaReads[issued.reads].waiting; });
}

extern "C" void _mlir_ciface_tetra_emu_workgroup_arena(TetraEmuBytes *result, int64_t bytes) {
  // One window a thread, kept for its later launches.
  static thread_local std::unique_ptr<int8_t, decltype(&std::free)> arena(nullptr, &std::free);
  if (bytes < 0 || static_cast<uint64_t>(bytes) > kSharedWindow) {
    std::fprintf(stderr, "tetra-run: error: %lld bytes of emulated workgroup memory; at most "
                 "%llu fit the shared window\n", static_cast<long long>(bytes),
                 static_cast<unsigned long long>(kSharedWindow));
    std::exit(1);
  }
  if (!arena) {
    arena.reset(static_cast<int8_t *>(std::aligned_alloc(kSharedWindow, kSharedWindow)));
    if (!arena) {
      std::fprintf(stderr, "tetra-run: error: no memory for emulated workgroup memory\n");
      std::exit(1);
    }
  }
  *result = {arena.get(), arena.get(), 0, bytes, 1};
}
