//===- ShapeHelpers.h - shape checks shared by the op verifiers -----------===//
#ifndef TETRA_SHAPEHELPERS_H
#define TETRA_SHAPEHELPERS_H

#include "mlir/IR/BuiltinTypes.h"
#include "tetra/Support/NumberFormat.h"
#include "llvm/ADT/ArrayRef.h"
#include <string>

namespace mlir::tetra {
/// Two sizes agree unless both are static and differ.
bool sizesAgree(int64_t a, int64_t b);
/// A size for a message: the number, or `?` when dynamic.
std::string sizeToString(int64_t size);
/// `2x?x8` for a shape.
std::string shapeToString(llvm::ArrayRef<int64_t> shape);
} // namespace mlir::tetra

#endif // TETRA_SHAPEHELPERS_H
