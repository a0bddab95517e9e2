//===- MemoryUse.h - the tensor memory a process holds --------------------===//
//
// Every byte of tensor data passes through one of two counted allocators: the
// runtime's tensors (CountedBytes) and the compiled kernels' temporaries
// (_mlir_memref_to_llvm_alloc, which tetra-compile makes the kernels call).
// Their sum, now and at its peak, is what the memory report compares with
// the compiler's prediction.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_MEMORYUSE_H
#define TETRA_RUNTIME_MEMORYUSE_H

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tetra::rt {

struct MemoryUse {
  int64_t current = 0;
  int64_t peak = 0;
};

/// Tensor bytes held now and at most since the start (or the last reset).
MemoryUse memoryUse();
void resetMemoryPeak();
/// Records `bytes` more (or fewer, when negative) held.
void countMemory(int64_t bytes);

/// A zeroed, counted byte buffer (a tensor's storage), from the device's
/// allocator (host memory on the CPU, memory both sides address on a GPU).
class CountedBytes {
public:
  CountedBytes() = default;
  explicit CountedBytes(size_t size);
  ~CountedBytes() { release(); }
  CountedBytes(CountedBytes &&other) noexcept { *this = std::move(other); }
  CountedBytes &operator=(CountedBytes &&other) noexcept;
  CountedBytes(const CountedBytes &) = delete;
  CountedBytes &operator=(const CountedBytes &) = delete;

  unsigned char *data() { return bytes_; }
  size_t size() const { return size_; }

private:
  void release();
  unsigned char *bytes_ = nullptr;
  size_t size_ = 0;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_MEMORYUSE_H
