//===- Tensor.cpp - host tensors and memref descriptors -------------------===//
#include "tetra/runtime/Tensor.h"

#include <cstring>

namespace tetra::rt {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return 2;
  case DType::I64:
    return 8;
  default:
    return 4;
  }
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  constexpr size_t kAlign = 64;
  storage_ = CountedBytes(numBytes() + kAlign);
  auto address = reinterpret_cast<uintptr_t>(storage_.data());
  data_ = storage_.data() + (kAlign - address % kAlign) % kAlign;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape_)
    n *= d;
  return n;
}

std::string Tensor::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape_.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape_[i]);
  return s + "]";
}

std::vector<int64_t> &Tensor::descriptor() {
  size_t rank = shape_.size();
  descriptor_.assign(3 + 2 * rank, 0);
  auto pointer = reinterpret_cast<int64_t>(data_);
  descriptor_[0] = pointer; // allocated
  descriptor_[1] = pointer; // aligned
  descriptor_[2] = 0;       // offset
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    descriptor_[3 + i] = shape_[i];
    descriptor_[3 + rank + i] = stride;
    stride *= shape_[i];
  }
  return descriptor_;
}

} // namespace tetra::rt
