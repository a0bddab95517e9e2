//===- NumberFormat.h - numbers in messages, as users write them ----------===//
#ifndef TETRA_SUPPORT_NUMBERFORMAT_H
#define TETRA_SUPPORT_NUMBERFORMAT_H

#include <cstdio>
#include <cstdlib>
#include <string>

namespace mlir::tetra {
/// The shortest `%g` form that reads back as the same double: `0.25`, `1e-06`.
inline std::string numberToString(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  return buffer;
}
} // namespace mlir::tetra

#endif // TETRA_SUPPORT_NUMBERFORMAT_H
