//===- Tensor.h - host tensors and the memref descriptors kernels take ----===//
#ifndef TETRA_RUNTIME_TENSOR_H
#define TETRA_RUNTIME_TENSOR_H

#include "tetra/runtime/MemoryUse.h"
#include <cstdint>
#include <string>
#include <vector>

namespace tetra::rt {

/// BF16: the GPU kernels' bf16 working copies of weights (rounded from the
/// fp32 masters), which only the kernels read.
enum class DType { F32, BF16, I32, I64 };

const char *dtypeName(DType dtype);
size_t dtypeSize(DType dtype);

/// A dense row-major host tensor, 64-byte aligned.
class Tensor {
public:
  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> shape);
  // data_ points into storage_: moving keeps the buffer, copying would not.
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;
  Tensor(Tensor &&) = default;
  Tensor &operator=(Tensor &&) = default;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t numElements() const;
  size_t numBytes() const { return numElements() * dtypeSize(dtype_); }
  void *data() { return data_; }
  const void *data() const { return data_; }
  template <typename T> T *as() { return static_cast<T *>(data_); }
  template <typename T> const T *as() const { return static_cast<const T *>(data_); }
  std::string shapeString() const;

  /// The MLIR memref descriptor of this tensor: allocated and aligned
  /// pointers, offset, sizes and strides, each 8 bytes.
  std::vector<int64_t> &descriptor();

private:
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  CountedBytes storage_;
  void *data_ = nullptr;
  std::vector<int64_t> descriptor_;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_TENSOR_H
