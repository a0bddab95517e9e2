//===- RuntimeTest.cpp - schedule, checkpoints and data of the runtime ----===//
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Grid.h"
#include "tetra/runtime/Safetensors.h"
#include "tetra/runtime/Schedule.h"
#include "tetra/runtime/Sharding.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

using namespace tetra::rt;

namespace {

std::string tempPath(const std::string &name) {
  llvm::SmallString<128> dir;
  llvm::sys::fs::createUniqueDirectory("tetra-runtime-test", dir);
  return (dir + "/" + name).str();
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  Schedule s{/*peak=*/1.0, /*warmup=*/10, /*total=*/110, /*minRatio=*/0.1, /*cosine=*/true};
  EXPECT_DOUBLE_EQ(s.at(1), 0.1);
  EXPECT_DOUBLE_EQ(s.at(10), 1.0);
  EXPECT_NEAR(s.at(60), 0.55, 1e-12); // halfway down the cosine
  EXPECT_NEAR(s.at(110), 0.1, 1e-12);
  Schedule constant{0.5, 0, 100, 0.1, false};
  EXPECT_DOUBLE_EQ(constant.at(77), 0.5);
}

TEST(Safetensors, RoundTripKeepsNamesShapesAndValues) {
  std::map<std::string, Tensor> tensors;
  Tensor w(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    w.as<float>()[i] = 0.5f * i - 1.0f;
  Tensor step(DType::I64, {});
  step.as<int64_t>()[0] = 42;
  tensors.emplace("model.norm.weight", std::move(w));
  tensors.emplace("optimizer.step", std::move(step));
  std::string path = tempPath("round.safetensors");
  writeSafetensors(path, tensors);
  std::map<std::string, Tensor> back = readSafetensors(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back.at("model.norm.weight").shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.at("model.norm.weight").as<float>()[5], 1.5f);
  EXPECT_EQ(back.at("optimizer.step").as<int64_t>()[0], 42);
}

TEST(Safetensors, ReadsBF16AndF16AsF32) {
  // [1.0, -2.5] in bf16 and f16, written by hand.
  std::string header =
      R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}})";
  uint64_t size = header.size();
  uint16_t data[4] = {0x3f80, 0xc020, 0x3c00, 0xc100};
  std::string path = tempPath("half.safetensors");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os.write(reinterpret_cast<const char *>(&size), 8);
    os << header;
    os.write(reinterpret_cast<const char *>(data), sizeof(data));
  }
  std::map<std::string, Tensor> t = readSafetensors(path);
  EXPECT_EQ(t.at("a").as<float>()[0], 1.0f);
  EXPECT_EQ(t.at("a").as<float>()[1], -2.5f);
  EXPECT_EQ(t.at("b").as<float>()[0], 1.0f);
  EXPECT_EQ(t.at("b").as<float>()[1], -2.5f);
}

TEST(Safetensors, WritesBF16TensorsAsBF16) {
  // A working copy's bits, [1.0, -2.5, 3.140625]: two bytes each in the file.
  Tensor copy(DType::BF16, {3});
  EXPECT_EQ(copy.numBytes(), 6u);
  const uint16_t bits[3] = {0x3f80, 0xc020, 0x4049};
  std::memcpy(copy.data(), bits, sizeof(bits));
  std::map<std::string, Tensor> tensors;
  tensors.emplace("w", std::move(copy));
  std::string path = tempPath("bf16.safetensors");
  writeSafetensors(path, tensors);
  std::map<std::string, Tensor> back = readSafetensors(path);
  EXPECT_EQ(back.at("w").as<float>()[0], 1.0f);
  EXPECT_EQ(back.at("w").as<float>()[1], -2.5f);
  EXPECT_EQ(back.at("w").as<float>()[2], 3.140625f);
}

TEST(Safetensors, TruncatedDataIsAnErrorNamingTheTensor) {
  std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  uint64_t size = header.size();
  std::string path = tempPath("short.safetensors");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os.write(reinterpret_cast<const char *>(&size), 8);
    os << header << "12345678"; // 8 of the 16 bytes
  }
  try {
    readSafetensors(path);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("tensor w has data offsets"), std::string::npos)
        << e.what();
  }
}

TEST(Data, SamplesAreConsecutiveWindowsWithShiftedTargets) {
  TokenData data{"mem", {}};
  for (int i = 0; i < 20; ++i)
    data.tokens.push_back(i);
  Batch b = makeBatch(data, /*first=*/1, /*batch=*/2, /*seq=*/4, /*vocab=*/100);
  // Sample 1 is tokens[4..8), sample 2 tokens[8..12).
  const int32_t *t = b.tokens.as<int32_t>(), *y = b.targets.as<int32_t>();
  EXPECT_EQ(t[0], 4);
  EXPECT_EQ(t[3], 7);
  EXPECT_EQ(y[3], 8);
  EXPECT_EQ(t[4], 8);
  EXPECT_EQ(y[7], 12);
  // 20 tokens hold (20 - 1) / 4 = 4 samples: stream index 5 is sample 1 again.
  Batch wrapped = makeBatch(data, 5, 1, 4, 100);
  EXPECT_EQ(wrapped.tokens.as<int32_t>()[0], 4);
  EXPECT_THROW(makeBatch(data, 0, 1, 4, 3), Error); // token 3 >= vocab 3
  TokenData tiny{"tiny", {1, 2, 3}};
  EXPECT_THROW(makeBatch(tiny, 0, 1, 4, 100), Error); // no whole sample
}

TEST(Data, ShuffleVisitsEverySampleOncePerEpoch) {
  TokenData data{"mem", {}};
  for (int i = 0; i < 41; ++i)
    data.tokens.push_back(i);
  data.shuffle = 7; // 10 samples of 4
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int> seen;
    for (int i = 0; i < 10; ++i)
      seen.push_back(makeBatch(data, epoch * 10 + i, 1, 4, 100).tokens.as<int32_t>()[0] / 4);
    std::vector<int> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(sorted[i], i);
    EXPECT_NE(seen, sorted) << "epoch " << epoch << " was not shuffled";
  }
}

TEST(Grid, RankOrderIsXFastestThenYZData) {
  GridShape shape = GridShape::parse("2x3x2x2");
  EXPECT_EQ(shape.ranks(), 24);
  // rank = data*(Gz*Gy*Gx) + z*(Gy*Gx) + y*Gx + x
  GridCoord c = coordOf(shape, 1 * 12 + 1 * 6 + 2 * 2 + 1);
  EXPECT_EQ(c.of(Axis::X), 1);
  EXPECT_EQ(c.of(Axis::Y), 2);
  EXPECT_EQ(c.of(Axis::Z), 1);
  EXPECT_EQ(c.of(Axis::Data), 1);
  for (int64_t r = 0; r < 24; ++r)
    EXPECT_EQ(rankOf(shape, coordOf(shape, r)), r);
  // x groups are consecutive ranks; a y group strides by Gx.
  EXPECT_EQ(groupOf(shape, 7, {Axis::X}), (std::vector<int64_t>{6, 7}));
  EXPECT_EQ(groupOf(shape, 7, {Axis::Y}), (std::vector<int64_t>{7, 9, 11}));
  EXPECT_EQ(groupOf(shape, 0, {Axis::Data, Axis::Z}), (std::vector<int64_t>{0, 12, 6, 18}));
  EXPECT_THROW(GridShape::parse("2x2x2"), Error);
  EXPECT_THROW(GridShape::parse("2x0x1x1"), Error);
}

} // namespace

namespace {

/// A parameter's manifest entry: global shape, layout, local shape.
ParamSpec spec(std::vector<int64_t> shape, std::vector<std::vector<Axis>> dims,
               std::vector<Axis> flat, std::vector<int64_t> local) {
  ParamSpec s;
  s.name = "w";
  s.shape = std::move(shape);
  s.dims = std::move(dims);
  s.flat = std::move(flat);
  s.localShape = std::move(local);
  return s;
}

} // namespace

TEST(Sharding, ShardsCoverEveryElementOnceAndPadTheRest) {
  // Rows (5, a vocabulary: padded to 6) over y, columns (4) over x, the
  // 3x2 block flattened and split over z: 3 elements per rank.
  GridShape grid{{2, 2, 2, 1}};
  ParamSpec s = spec({5, 4}, {{Axis::Y}, {Axis::X}}, {Axis::Z}, {3});
  std::vector<int> seen(20, 0);
  int64_t padding = 0;
  for (int64_t rank = 0; rank < grid.ranks(); ++rank) {
    int64_t count = 0;
    forEachShardElement(s, grid, coordOf(grid, rank), [&](int64_t local, int64_t global) {
      ASSERT_LT(local, 3);
      ++seen[global];
      ++count;
    });
    padding += 3 - count;
  }
  // Replicated over nothing: every real element exactly once.
  for (int n : seen)
    EXPECT_EQ(n, 1);
  EXPECT_EQ(padding, 4); // the padded sixth row: 4 elements
}

TEST(Sharding, ShardOfThenGatherOrderIsTheGlobalTensor) {
  // Rank (x=1, y=0, z=1) of a 2x2x2 grid: rows 0-2 of the padded 6, columns
  // 2-3, second half of the flattened 3x2 block: elements (1,3), (2,2), (2,3).
  GridShape grid{{2, 2, 2, 1}};
  ParamSpec s = spec({5, 4}, {{Axis::Y}, {Axis::X}}, {Axis::Z}, {3});
  Tensor global(DType::F32, {5, 4});
  for (int i = 0; i < 20; ++i)
    global.as<float>()[i] = static_cast<float>(i);
  GridCoord c;
  c.at = {1, 0, 1, 0};
  Tensor local = shardOf(s, global, grid, c);
  ASSERT_EQ(local.shape(), std::vector<int64_t>{3});
  EXPECT_EQ(local.as<float>()[0], 7.0f);
  EXPECT_EQ(local.as<float>()[1], 10.0f);
  EXPECT_EQ(local.as<float>()[2], 11.0f);
}

TEST(Sharding, GradientsAreSummedOverTheAxesThatSawOtherRows) {
  GridShape grid{{2, 2, 2, 2}};
  ParamSpec weight = spec({4, 4}, {{Axis::Y}, {Axis::X}}, {Axis::Z}, {2});
  ParamSpec norm = spec({4}, {{Axis::X}}, {}, {2});
  EXPECT_EQ(gradientReduceAxes(weight, grid), std::vector<Axis>{Axis::Data});
  EXPECT_EQ(gradientReduceAxes(norm, grid), (std::vector<Axis>{Axis::Z, Axis::Data}));
  EXPECT_EQ(tensorReplicas(weight, grid), 1);
  EXPECT_EQ(tensorReplicas(norm, grid), 4); // y and z hold copies
}
