//===- GridAttrTest.cpp - the 4D grid attribute ---------------------------===//
#include "tetra/TetraDialect.h"

#include "mlir/IR/MLIRContext.h"
#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::tetra;

TEST(GridAttr, SizesOfAxesAndGroups) {
  MLIRContext ctx;
  ctx.loadDialect<TetraDialect>();
  auto grid = GridAttr::get(&ctx, int64_t{2}, int64_t{4}, int64_t{8}, int64_t{16});
  EXPECT_EQ(grid.getSize(GridAxis::x), 2);
  EXPECT_EQ(grid.getSize(GridAxis::y), 4);
  EXPECT_EQ(grid.getSize(GridAxis::z), 8);
  EXPECT_EQ(grid.getSize(GridAxis::data), 16);
  EXPECT_EQ(grid.getSize({GridAxis::x, GridAxis::z}), 16);
  EXPECT_EQ(grid.getNumDevices(), 1024);
}

TEST(GridAttr, RejectsEmptyAxis) {
  MLIRContext ctx;
  ctx.loadDialect<TetraDialect>();
  std::string message;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    message = d.str();
    return success();
  });
  auto grid = GridAttr::getChecked(
      [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, int64_t{2}, int64_t{0}, int64_t{1}, int64_t{1});
  EXPECT_FALSE(grid);
  EXPECT_EQ(message, "grid axis 'y' must have at least 1 rank, got 0");
}
