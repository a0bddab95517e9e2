//===- Grid.h - the 4D device grid: coordinates and rank order -------------===//
#ifndef TETRA_RUNTIME_GRID_H
#define TETRA_RUNTIME_GRID_H

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tetra::rt {

/// The axes in rank order: x varies fastest, then y, z, data.
enum class Axis { X = 0, Y = 1, Z = 2, Data = 3 };
const char *axisName(Axis axis);

/// Sizes of the four axes.
struct GridShape {
  std::array<int64_t, 4> sizes{1, 1, 1, 1};

  int64_t size(Axis a) const { return sizes[static_cast<int>(a)]; }
  int64_t ranks() const { return sizes[0] * sizes[1] * sizes[2] * sizes[3]; }
  /// Parses "XxYxZxD" (e.g. "2x2x1x2"); throws Error on anything else.
  static GridShape parse(const std::string &text);
  std::string str() const;
};

/// A rank's position on the grid.
struct GridCoord {
  std::array<int64_t, 4> at{0, 0, 0, 0};
  int64_t of(Axis a) const { return at[static_cast<int>(a)]; }
};

/// rank = data*(Gz*Gy*Gx) + z*(Gy*Gx) + y*Gx + x (ALGORITHMS.md section 1).
GridCoord coordOf(const GridShape &shape, int64_t rank);
int64_t rankOf(const GridShape &shape, const GridCoord &coord);

/// The ranks of `rank`'s group over `axes` (ranks differing from it only in
/// those axes), in group order: the first listed axis varies fastest.
std::vector<int64_t> groupOf(const GridShape &shape, int64_t rank,
                             const std::vector<Axis> &axes);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_GRID_H
