//===- GpuEmulatorTest.cpp - the fibers that run cooperating kernels ------===//
#include "tetra/runtime/GpuEmulator.h"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace {

/// bf16 bits of a float that bf16 holds exactly (small integers here).
uint32_t bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits >> 16;
}
uint32_t pair(float lo, float hi) { return bf16(lo) | (bf16(hi) << 16); }

// ---- a block-wide tree reduction, correct only if barriers hold ----------

struct Reduction {
  std::vector<float> values; // blocks x 64, reduced in place
};

void reduceEntry(void *arguments) {
  auto &r = *static_cast<Reduction *>(arguments);
  int64_t t = tetra_emu_thread_id(), block = tetra_emu_block_id();
  float *row = r.values.data() + block * tetra_emu_block_dim();
  for (int64_t stride = tetra_emu_block_dim() / 2; stride > 0; stride /= 2) {
    if (t < stride)
      row[t] += row[t + stride];
    tetra_emu_barrier();
  }
}

TEST(GpuEmulator, BarriersOrderABlockReduction) {
  Reduction r;
  for (int block = 0; block < 3; ++block)
    for (int t = 0; t < 64; ++t)
      r.values.push_back(static_cast<float>(block * 1000 + t));
  tetra_emu_launch(reduceEntry, &r, 3, 64, 32, "reduce");
  for (int block = 0; block < 3; ++block)
    EXPECT_EQ(r.values[block * 64], 64.0f * block * 1000 + 63 * 64 / 2) << "block " << block;
}

// ---- warp-wide matrix instructions against a plain product ---------------

struct Product {
  float a[16][16], b[16][16], c[16][16];
  float d[64][4]; // each lane's result
};

Product makeProduct() {
  Product p;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      p.a[i][j] = static_cast<float>((3 * i + j) % 7 - 3);
      p.b[i][j] = static_cast<float>((i * j + 1) % 5 - 2);
      p.c[i][j] = static_cast<float>(i - j);
    }
  return p;
}

float expected(const Product &p, int i, int j) {
  float sum = p.c[i][j];
  for (int k = 0; k < 16; ++k)
    sum += p.a[i][k] * p.b[k][j];
  return sum;
}

// PTX ISA, mma.m16n8k16 .bf16: groupID = lane >> 2, threadID_in_group = lane % 4.
// a0,a1: (g, 2t..2t+1)  a2,a3: (g+8, 2t..)  a4,a5: (g, 2t+8..)  a6,a7: (g+8, 2t+8..)
// b0,b1: (2t..2t+1, g)  b2,b3: (2t+8.., g)
// c0,c1: (g, 2t..2t+1)  c2,c3: (g+8, 2t..)
void mmaEntry(void *arguments) {
  auto &p = *static_cast<Product *>(arguments);
  int lane = static_cast<int>(tetra_emu_thread_id()), g = lane >> 2, t = lane % 4;
  float d[4];
  tetra_emu_mma_sync_m16n8k16_bf16(
      pair(p.a[g][2 * t], p.a[g][2 * t + 1]), pair(p.a[g + 8][2 * t], p.a[g + 8][2 * t + 1]),
      pair(p.a[g][2 * t + 8], p.a[g][2 * t + 9]), pair(p.a[g + 8][2 * t + 8], p.a[g + 8][2 * t + 9]),
      pair(p.b[2 * t][g], p.b[2 * t + 1][g]), pair(p.b[2 * t + 8][g], p.b[2 * t + 9][g]),
      p.c[g][2 * t], p.c[g][2 * t + 1], p.c[g + 8][2 * t], p.c[g + 8][2 * t + 1], d, d, 0, 4, 1);
  std::memcpy(p.d[lane], d, sizeof d);
}

TEST(GpuEmulator, MmaSyncM16N8K16MatchesTheProduct) {
  Product p = makeProduct();
  tetra_emu_launch(mmaEntry, &p, 1, 32, 32, "mma");
  for (int lane = 0; lane < 32; ++lane) {
    int g = lane >> 2, t = lane % 4;
    EXPECT_EQ(p.d[lane][0], expected(p, g, 2 * t)) << "lane " << lane;
    EXPECT_EQ(p.d[lane][1], expected(p, g, 2 * t + 1)) << "lane " << lane;
    EXPECT_EQ(p.d[lane][2], expected(p, g + 8, 2 * t)) << "lane " << lane;
    EXPECT_EQ(p.d[lane][3], expected(p, g + 8, 2 * t + 1)) << "lane " << lane;
  }
}

// CDNA2 ISA, v_mfma_f32_16x16x16bf16_1k: lane l, item i:
// A[l % 16][4 (l / 16) + i], B[4 (l / 16) + i][l % 16], D[4 (l / 16) + i][l % 16].
void mfmaEntry(void *arguments) {
  auto &p = *static_cast<Product *>(arguments);
  int lane = static_cast<int>(tetra_emu_thread_id()), x = lane % 16, k = 4 * (lane / 16);
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 4; ++i) {
    a |= static_cast<uint64_t>(bf16(p.a[x][k + i])) << (16 * i);
    b |= static_cast<uint64_t>(bf16(p.b[k + i][x])) << (16 * i);
  }
  float d[4];
  tetra_emu_mfma_16x16x16_bf16(a, b, p.c[k][x], p.c[k + 1][x], p.c[k + 2][x], p.c[k + 3][x], d, d,
                               0, 4, 1);
  std::memcpy(p.d[lane], d, sizeof d);
}

TEST(GpuEmulator, Mfma16x16x16MatchesTheProduct) {
  Product p = makeProduct();
  tetra_emu_launch(mfmaEntry, &p, 1, 64, 64, "mfma");
  for (int lane = 0; lane < 64; ++lane)
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(p.d[lane][i], expected(p, 4 * (lane / 16) + i, lane % 16)) << "lane " << lane;
}

// ---- xor shuffles: a butterfly sum gives every lane the warp's total ------

struct Butterfly {
  float values[64];
};

void butterflyEntry(void *arguments) {
  auto &b = *static_cast<Butterfly *>(arguments);
  int64_t t = tetra_emu_thread_id();
  float v = b.values[t];
  for (int offset = 16; offset > 0; offset /= 2)
    v += tetra_emu_shuffle_xor_f32(v, offset, 32);
  b.values[t] = v;
}

TEST(GpuEmulator, XorShufflesSumEachWarp) {
  Butterfly b;
  for (int t = 0; t < 64; ++t)
    b.values[t] = static_cast<float>(t);
  tetra_emu_launch(butterflyEntry, &b, 1, 64, 32, "butterfly");
  for (int t = 0; t < 64; ++t)
    EXPECT_EQ(b.values[t], t < 32 ? 496.0f : 1520.0f) << "lane " << t; // 0..31, 32..63
}

// ---- kernels whose threads do not meet: named errors, exit status 1 -------

void skipsBarrier(void *) {
  if (tetra_emu_thread_id() != 5)
    tetra_emu_barrier();
}

void halfWarpMma(void *) {
  if (tetra_emu_thread_id() < 16) {
    float d[4];
    tetra_emu_mma_sync_m16n8k16_bf16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d, d, 0, 4, 1);
  }
}

void barrierOrMma(void *) {
  if (tetra_emu_thread_id() % 2) {
    tetra_emu_barrier();
  } else {
    float d[4];
    tetra_emu_mma_sync_m16n8k16_bf16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d, d, 0, 4, 1);
  }
}

TEST(GpuEmulatorDeathTest, ThreadsThatDoNotMeetNameTheKernel) {
  EXPECT_EXIT(tetra_emu_launch(skipsBarrier, nullptr, 2, 64, 32, "skips"),
              testing::ExitedWithCode(1),
              "emulated GPU kernel skips, block 0: 63 threads wait at a barrier that 1 threads "
              "left the kernel without reaching");
  EXPECT_EXIT(tetra_emu_launch(halfWarpMma, nullptr, 1, 32, 32, "half"), testing::ExitedWithCode(1),
              "kernel half, block 0: the lanes of warp 0 diverge at mma.sync.m16n8k16 \\(16 of 32 "
              "lanes reached it\\)");
  EXPECT_EXIT(tetra_emu_launch(barrierOrMma, nullptr, 1, 32, 32, "mixed"),
              testing::ExitedWithCode(1), "kernel mixed, block 0: its threads wait for each other");
  EXPECT_EXIT(tetra_emu_barrier(), testing::ExitedWithCode(1),
              "gpu.barrier called outside an emulated GPU kernel");
}

} // namespace

// ---- ldmatrix against the PTX ISA's description --------------------------

// ldmatrix.sync.aligned.m8n8.x4.b16: threads 8j..8j+7 give the row
// addresses of matrix j; each thread then holds, in register j, the two
// 16-bit elements of matrix j at row lane / 4, columns 2 (lane % 4) + {0, 1}.
// Four 8x8 matrices of distinct 16-bit values; rows are padded to 24
// elements (48 bytes, a multiple of 16) so addresses stay aligned.
struct LdMatrix {
  alignas(16) uint16_t m[4][8][24];
  uint32_t reg[32][4];
};

void ldMatrixEntry(void *arguments) {
  auto &p = *static_cast<LdMatrix *>(arguments);
  int lane = static_cast<int>(tetra_emu_thread_id());
  float d[4];
  tetra_emu_ldmatrix_x4_b16(reinterpret_cast<int64_t>(&p.m[lane / 8][lane % 8][0]), d, d, 0, 4,
                            1);
  std::memcpy(p.reg[lane], d, sizeof d);
}

TEST(GpuEmulator, LdMatrixDealsRowsAsThePtxIsaSays) {
  LdMatrix p{};
  for (int j = 0; j < 4; ++j)
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c)
        p.m[j][r][c] = static_cast<uint16_t>(1000 * j + 10 * r + c);
  tetra_emu_launch(ldMatrixEntry, &p, 1, 32, 32, "ldmatrix");
  for (int lane = 0; lane < 32; ++lane)
    for (int j = 0; j < 4; ++j) {
      int row = lane / 4, col = 2 * (lane % 4);
      uint32_t want = p.m[j][row][col] | (uint32_t(p.m[j][row][col + 1]) << 16);
      EXPECT_EQ(p.reg[lane][j], want) << "lane " << lane << ", register " << j;
    }
}

// ---- asynchronous copies land at the wait that covers their group -------

namespace {

struct Copies {
  alignas(16) float source[4][8];      // per thread: two runs of four
  alignas(16) float destination[4][8];
  float seen[4][4]; // destination[t][0], [4] before and after each wait
};

void copiesEntry(void *arguments) {
  auto &c = *static_cast<Copies *>(arguments);
  int64_t t = tetra_emu_thread_id();
  auto address = [](float *p) { return reinterpret_cast<int64_t>(p); };
  // Group 0: the first run; group 1: the second, of which only 8 bytes are
  // read (the other 8 land as zeros).
  tetra_emu_async_copy(address(&c.destination[t][0]), address(&c.source[t][0]), 16, 16);
  tetra_emu_async_commit();
  tetra_emu_async_copy(address(&c.destination[t][4]), address(&c.source[t][4]), 16, 8);
  tetra_emu_async_commit();
  c.seen[t][0] = c.destination[t][0];
  tetra_emu_async_wait(1); // all but the newest group
  c.seen[t][1] = c.destination[t][0];
  c.seen[t][2] = c.destination[t][4];
  tetra_emu_async_wait(0);
  c.seen[t][3] = c.destination[t][4];
}

void leavesCopiesBehind(void *arguments) {
  auto &c = *static_cast<Copies *>(arguments);
  int64_t t = tetra_emu_thread_id();
  tetra_emu_async_copy(reinterpret_cast<int64_t>(&c.destination[t][0]),
                       reinterpret_cast<int64_t>(&c.source[t][0]), 16, 16);
  tetra_emu_async_commit();
}

} // namespace

TEST(GpuEmulator, AsyncCopiesLandAtTheWaitThatCoversTheirGroup) {
  Copies c{};
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 8; ++i) {
      c.source[t][i] = static_cast<float>(10 * t + i + 1);
      c.destination[t][i] = -1.0f;
    }
  tetra_emu_launch(copiesEntry, &c, 1, 4, 32, "copies");
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(c.seen[t][0], -1.0f) << "thread " << t << ": landed before any wait";
    EXPECT_EQ(c.seen[t][1], c.source[t][0]) << "thread " << t;
    EXPECT_EQ(c.seen[t][2], -1.0f) << "thread " << t << ": the newest group landed early";
    EXPECT_EQ(c.seen[t][3], c.source[t][4]) << "thread " << t;
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(c.destination[t][i], c.source[t][i]) << "thread " << t << ", element " << i;
    EXPECT_EQ(c.destination[t][6], 0.0f) << "thread " << t << ": past the bytes read";
    EXPECT_EQ(c.destination[t][7], 0.0f) << "thread " << t << ": past the bytes read";
  }
}

TEST(GpuEmulatorDeathTest, CopiesNoWaitCoversNameTheThread) {
  Copies c{};
  EXPECT_EXIT(tetra_emu_launch(leavesCopiesBehind, &c, 1, 4, 32, "unwaited"),
              testing::ExitedWithCode(1),
              "kernel unwaited, block 0: thread 0 left the kernel with 1 asynchronous copies that "
              "no wait covered");
}

// ---- wgmma: operands read through matrix descriptors ----------------------

namespace {

// wgmma.mma_async m64n32k16, A and B K-major in shared memory without
// swizzling (PTX ISA, "Shared Memory Matrix Layout"): element (row, k) of
// an operand lies at start + (row / 8) SBO + (k / 8) LBO + (row % 8) 16 +
// (k % 8) 2. A and B use different offsets here, so both fields are read
// as the descriptor says rather than as one layout fixes them.
constexpr int64_t kWindow = int64_t(1) << 18;
constexpr int64_t kOffsetB = 4096, kArenaBytes = 8192;

struct Wgmma {
  char *arena;          // 256 KiB aligned: descriptor start = offset >> 4
  float a[64][16], b[32][16], c[64][32], d[64][32];
  uint64_t descriptorA, descriptorB;
  bool writeAfterBarrier = false, wait = true;
};

uint64_t descriptor(int64_t start, int64_t leading, int64_t stride) {
  return uint64_t(start >> 4) | (uint64_t(leading >> 4) << 16) | (uint64_t(stride >> 4) << 32);
}

void stage(char *arena, int64_t start, int64_t leading, int64_t stride, int64_t row, int64_t k,
           float value) {
  uint16_t bits = static_cast<uint16_t>(bf16(value));
  std::memcpy(arena + start + (row / 8) * stride + (k / 8) * leading + (row % 8) * 16 + (k % 8) * 2,
              &bits, sizeof bits);
}

Wgmma *makeWgmma() {
  auto *w = new Wgmma{};
  w->arena = static_cast<char *>(std::aligned_alloc(kWindow, kWindow));
  std::memset(w->arena, 0, kWindow);
  for (int r = 0; r < 64; ++r)
    for (int k = 0; k < 16; ++k) {
      w->a[r][k] = static_cast<float>((5 * r + 3 * k) % 9 - 4);
      stage(w->arena, 0, 128, 256, r, k, w->a[r][k]);
    }
  for (int n = 0; n < 32; ++n)
    for (int k = 0; k < 16; ++k) {
      w->b[n][k] = static_cast<float>((n * k + 2) % 7 - 3);
      stage(w->arena, kOffsetB, 1024, 128, n, k, w->b[n][k]);
    }
  for (int r = 0; r < 64; ++r)
    for (int n = 0; n < 32; ++n)
      w->c[r][n] = static_cast<float>(r - n);
  w->descriptorA = descriptor(0, 128, 256);
  w->descriptorB = descriptor(kOffsetB, 1024, 128);
  return w;
}

// Thread l of warp w holds d_i at row 16 w + l / 4 + 8 ((i / 2) % 2),
// column 8 (i / 4) + 2 (l % 4) + i % 2 (PTX ISA, wgmma .m64nNk16 D).
std::pair<int, int> accumulatorAt(int64_t thread, int i) {
  int w = static_cast<int>(thread / 32), l = static_cast<int>(thread % 32);
  return {16 * w + l / 4 + 8 * ((i / 2) % 2), 8 * (i / 4) + 2 * (l % 4) + i % 2};
}

void wgmmaEntry(void *arguments) {
  auto &w = *static_cast<Wgmma *>(arguments);
  int64_t t = tetra_emu_thread_id();
  tetra_emu_workgroup_buffer(0, reinterpret_cast<int64_t>(w.arena), kArenaBytes);
  float acc[16];
  for (int i = 0; i < 16; ++i) {
    auto [row, col] = accumulatorAt(t, i);
    acc[i] = w.c[row][col];
  }
  tetra_emu_wgmma_m64k16_bf16(w.descriptorA, w.descriptorB, 32, acc, acc, 0, 16, 1);
  tetra_emu_wgmma_commit();
  if (w.writeAfterBarrier) {
    tetra_emu_barrier();
    if (t == 5) // a byte of A the product may still be reading
      tetra_emu_workgroup_access(0, kArenaBytes, 0, 2, /*writes=*/1, 2);
  }
  if (w.wait)
    tetra_emu_wgmma_wait(0);
  for (int i = 0; i < 16; ++i) {
    auto [row, col] = accumulatorAt(t, i);
    w.d[row][col] = acc[i];
  }
}

TEST(GpuEmulator, WgmmaReadsItsOperandsThroughDescriptors) {
  Wgmma *w = makeWgmma();
  tetra_emu_launch(wgmmaEntry, w, 2, 128, 32, "wgmma");
  for (int r = 0; r < 64; ++r)
    for (int n = 0; n < 32; ++n) {
      float expected = w->c[r][n];
      for (int k = 0; k < 16; ++k)
        expected += w->a[r][k] * w->b[n][k];
      EXPECT_EQ(w->d[r][n], expected) << "row " << r << ", column " << n;
    }
  std::free(w->arena);
  delete w;
}

TEST(GpuEmulatorDeathTest, WgmmaMisuseNamesTheKernel) {
  Wgmma *w = makeWgmma();
  w->writeAfterBarrier = true;
  EXPECT_EXIT(tetra_emu_launch(wgmmaEntry, w, 1, 128, 32, "early"), testing::ExitedWithCode(1),
              "kernel early, block 0: threads race on byte 0 of workgroup buffer 0: thread 5 "
              "writes what the wgmma of warpgroup 0 read with no barrier between");
  w->writeAfterBarrier = false;
  w->wait = false;
  EXPECT_EXIT(tetra_emu_launch(wgmmaEntry, w, 1, 128, 32, "unwaited"), testing::ExitedWithCode(1),
              "kernel unwaited, block 0: thread 0 left the kernel with 1 wgmma.mma_async that no "
              "wgmma.wait_group covered");
  w->wait = true;
  w->descriptorB |= uint64_t(1) << 62; // 128-byte swizzle
  EXPECT_EXIT(tetra_emu_launch(wgmmaEntry, w, 1, 128, 32, "swizzled"), testing::ExitedWithCode(1),
              "kernel swizzled, block 0: wgmma's B descriptor has swizzle mode 1 and base offset 0");
  w->descriptorB = descriptor(kArenaBytes, 128, 128);
  EXPECT_EXIT(tetra_emu_launch(wgmmaEntry, w, 1, 128, 32, "outside"), testing::ExitedWithCode(1),
              "kernel outside, block 0: wgmma's B reads 16 bytes at shared address 8192 \\(row 0, "
              "K 0\\), outside every workgroup buffer");
  EXPECT_EXIT(tetra_emu_launch(wgmmaEntry, w, 1, 64, 32, "half"), testing::ExitedWithCode(1),
              "kernel half, block 0: wgmma.mma_async.m64nNk16 needs warpgroups of four 32-lane "
              "warps; the block has 64 threads");
  std::free(w->arena);
  delete w;
}

} // namespace
