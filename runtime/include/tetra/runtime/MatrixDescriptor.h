//===- MatrixDescriptor.h - a 2-D f32 memref as compiled code passes it ---===//
#ifndef TETRA_RUNTIME_MATRIXDESCRIPTOR_H
#define TETRA_RUNTIME_MATRIXDESCRIPTOR_H

#include <cstdint>

namespace tetra::rt {

/// MLIR's descriptor of a 2-D f32 memref (the GEMM calls' arguments).
struct MatrixDescriptor {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];

  float *data() const { return aligned + offset; }
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_MATRIXDESCRIPTOR_H
