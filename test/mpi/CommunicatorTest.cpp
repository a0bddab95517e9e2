//===- CommunicatorTest.cpp - grid groups and collectives under mpirun ----===//
//
// Run with 8 ranks. For every power-of-two grid of 8 ranks and every set of
// axes, the collectives' results are checked against sums and orders computed
// from the coordinates alone.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Communicator.h"
#include "tetra/runtime/Error.h"

#include <gtest/gtest.h>
#include <mpi.h>

using namespace tetra::rt;

namespace {

std::vector<GridShape> gridsOf8() {
  std::vector<GridShape> grids;
  for (int x = 1; x <= 8; x *= 2)
    for (int y = 1; x * y <= 8; y *= 2)
      for (int z = 1; x * y * z <= 8; z *= 2)
        grids.push_back(GridShape{{x, y, z, 8 / (x * y * z)}});
  return grids;
}

std::vector<std::vector<Axis>> axisSets() {
  std::vector<std::vector<Axis>> sets;
  for (int mask = 1; mask < 16; ++mask) {
    std::vector<Axis> axes;
    for (int a = 0; a < 4; ++a)
      if (mask & (1 << a))
        axes.push_back(static_cast<Axis>(a));
    sets.push_back(axes);
  }
  return sets;
}

/// Whether `other` is in `rank`'s group over `axes`: equal on every other axis.
bool sameGroup(const GridShape &shape, int64_t rank, int64_t other,
               const std::vector<Axis> &axes) {
  GridCoord a = coordOf(shape, rank), b = coordOf(shape, other);
  for (int i = 0; i < 4; ++i) {
    bool inGroup = false;
    for (Axis ax : axes)
      inGroup |= static_cast<int>(ax) == i;
    if (!inGroup && a.at[i] != b.at[i])
      return false;
  }
  return true;
}

/// Position of `other` in the group: the first listed axis fastest.
int64_t positionIn(const GridShape &shape, int64_t other, const std::vector<Axis> &axes) {
  GridCoord c = coordOf(shape, other);
  int64_t pos = 0, stride = 1;
  for (Axis a : axes) {
    pos += c.of(a) * stride;
    stride *= shape.size(a);
  }
  return pos;
}

TEST(GridCommunicator, CollectivesOnEveryGridOf8) {
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ASSERT_EQ(world, 8) << "run with mpirun -np 8";
  for (const GridShape &shape : gridsOf8()) {
    GridCommunicator comm(MPI_COMM_WORLD, shape);
    int64_t me = comm.rank();
    for (const std::vector<Axis> &axes : axisSets()) {
      int64_t groupSize = 1;
      for (Axis a : axes)
        groupSize *= shape.size(a);
      SCOPED_TRACE("grid " + shape.str() + ", axes mask " + std::to_string(axes.size()));

      // all-reduce of (rank + 1) and (rank + 1)^2
      float values[2] = {float(me + 1), float((me + 1) * (me + 1))};
      comm.allReduceSum(values, 2, axes);
      float expect[2] = {0, 0};
      for (int64_t r = 0; r < 8; ++r)
        if (sameGroup(shape, me, r, axes)) {
          expect[0] += float(r + 1);
          expect[1] += float((r + 1) * (r + 1));
        }
      EXPECT_EQ(values[0], expect[0]);
      EXPECT_EQ(values[1], expect[1]);

      // all-gather of the rank: entry i is the rank at group position i
      float mine = float(me);
      std::vector<float> gathered(groupSize);
      comm.allGather(&mine, 1, gathered.data(), axes);
      for (int64_t r = 0; r < 8; ++r)
        if (sameGroup(shape, me, r, axes))
          EXPECT_EQ(gathered[positionIn(shape, r, axes)], float(r));

      // the same on 16-bit values, bit for bit (bf16 copies: 0x3f80 + rank)
      uint16_t bits[2] = {static_cast<uint16_t>(0x3f80 + me), static_cast<uint16_t>(0xff00 | me)};
      std::vector<uint16_t> gatheredBits(2 * groupSize);
      comm.allGather(bits, 2, gatheredBits.data(), axes);
      for (int64_t r = 0; r < 8; ++r)
        if (sameGroup(shape, me, r, axes)) {
          EXPECT_EQ(gatheredBits[2 * positionIn(shape, r, axes)], 0x3f80 + r);
          EXPECT_EQ(gatheredBits[2 * positionIn(shape, r, axes) + 1], 0xff00 | r);
        }

      // reduce-scatter: slice i of the sum is sum over members of (10 r + i)
      std::vector<float> in(groupSize);
      for (int64_t i = 0; i < groupSize; ++i)
        in[i] = float(10 * me + i);
      float out = 0;
      comm.reduceScatterSum(in.data(), &out, 1, axes);
      float want = 0;
      int64_t myPos = positionIn(shape, me, axes);
      for (int64_t r = 0; r < 8; ++r)
        if (sameGroup(shape, me, r, axes))
          want += float(10 * r + myPos);
      EXPECT_EQ(out, want);
    }
  }
}

TEST(GridCommunicator, WrongRankCountIsAnError) {
  EXPECT_THROW(GridCommunicator(MPI_COMM_WORLD, GridShape{{2, 2, 2, 2}}), Error);
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) // one report, from rank 0
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  int failed = RUN_ALL_TESTS();
  int anyFailed = 0;
  MPI_Allreduce(&failed, &anyFailed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return anyFailed;
}
