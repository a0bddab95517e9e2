//===- Grid.cpp - the 4D device grid: coordinates and rank order -----------===//
#include "tetra/runtime/Grid.h"
#include "tetra/runtime/Error.h"

#include <sstream>

namespace tetra::rt {

const char *axisName(Axis axis) {
  static const char *names[] = {"x", "y", "z", "data"};
  return names[static_cast<int>(axis)];
}

GridShape GridShape::parse(const std::string &text) {
  GridShape shape;
  std::stringstream in(text);
  std::string part;
  int i = 0;
  while (std::getline(in, part, 'x')) {
    char *end = nullptr;
    long long v = std::strtoll(part.c_str(), &end, 10);
    if (i >= 4 || part.empty() || *end != '\0' || v < 1)
      throw Error("grid '" + text + "' is not XxYxZxD with four positive sizes");
    shape.sizes[i++] = v;
  }
  if (i != 4)
    throw Error("grid '" + text + "' is not XxYxZxD with four positive sizes");
  return shape;
}

std::string GridShape::str() const {
  return std::to_string(sizes[0]) + "x" + std::to_string(sizes[1]) + "x" +
         std::to_string(sizes[2]) + "x" + std::to_string(sizes[3]);
}

GridCoord coordOf(const GridShape &shape, int64_t rank) {
  GridCoord c;
  for (int a = 0; a < 4; ++a) {
    c.at[a] = rank % shape.sizes[a];
    rank /= shape.sizes[a];
  }
  return c;
}

int64_t rankOf(const GridShape &shape, const GridCoord &coord) {
  int64_t rank = 0;
  for (int a = 3; a >= 0; --a)
    rank = rank * shape.sizes[a] + coord.at[a];
  return rank;
}

std::vector<int64_t> groupOf(const GridShape &shape, int64_t rank,
                             const std::vector<Axis> &axes) {
  GridCoord base = coordOf(shape, rank);
  int64_t count = 1;
  for (Axis a : axes)
    count *= shape.size(a);
  std::vector<int64_t> ranks;
  for (int64_t i = 0; i < count; ++i) {
    GridCoord c = base;
    int64_t rest = i;
    for (Axis a : axes) {
      c.at[static_cast<int>(a)] = rest % shape.size(a);
      rest /= shape.size(a);
    }
    ranks.push_back(rankOf(shape, c));
  }
  return ranks;
}

} // namespace tetra::rt
