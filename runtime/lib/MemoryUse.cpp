//===- MemoryUse.cpp - counted tensor memory, and the kernels' allocator ---===//
#include "tetra/runtime/MemoryUse.h"
#include "tetra/runtime/Device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace tetra::rt {
namespace {
std::atomic<int64_t> current{0}, peak{0};
} // namespace

void countMemory(int64_t bytes) {
  int64_t now = current.fetch_add(bytes) + bytes;
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

MemoryUse memoryUse() { return {current.load(), peak.load()}; }

void resetMemoryPeak() { peak.store(current.load()); }

CountedBytes::CountedBytes(size_t size)
    : bytes_(static_cast<unsigned char *>(device().allocate(size))), size_(size) {
  if (!bytes_)
    throw std::bad_alloc();
  countMemory(static_cast<int64_t>(size));
}

CountedBytes &CountedBytes::operator=(CountedBytes &&other) noexcept {
  if (this != &other) {
    release();
    bytes_ = other.bytes_;
    size_ = other.size_;
    other.bytes_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void CountedBytes::release() {
  if (bytes_) {
    countMemory(-static_cast<int64_t>(size_));
    device().release(bytes_);
  }
  bytes_ = nullptr;
  size_ = 0;
}

} // namespace tetra::rt

// The compiled kernels allocate their temporaries here (finalize-memref-to-
// llvm's generic functions). The size is kept in front of the block so the
// free can count it.
extern "C" {
void *_mlir_memref_to_llvm_alloc(size_t size) {
  constexpr size_t kHeader = 16; // keeps malloc's 16-byte alignment
  auto *block = static_cast<unsigned char *>(tetra::rt::device().allocate(size + kHeader));
  if (!block)
    return nullptr;
  std::memcpy(block, &size, sizeof(size));
  tetra::rt::countMemory(static_cast<int64_t>(size));
  return block + kHeader;
}

void _mlir_memref_to_llvm_free(void *pointer) {
  if (!pointer)
    return;
  auto *block = static_cast<unsigned char *>(pointer) - 16;
  size_t size;
  std::memcpy(&size, block, sizeof(size));
  tetra::rt::countMemory(-static_cast<int64_t>(size));
  tetra::rt::device().release(block);
}
}
