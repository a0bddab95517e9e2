//===- ShapeHelpers.cpp - shape checks shared by the op verifiers ---------===//
#include "ShapeHelpers.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

bool tetra::sizesAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string tetra::sizeToString(int64_t size) {
  return ShapedType::isDynamic(size) ? "?" : std::to_string(size);
}

std::string tetra::shapeToString(llvm::ArrayRef<int64_t> shape) {
  return llvm::join(llvm::map_range(shape, sizeToString), "x");
}

