//===- MemoryUse.cpp - counted tensor memory, and the kernels' allocator ---===//
#include "tetra/runtime/MemoryUse.h"
#include "tetra/runtime/Device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

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
// llvm's generic functions). Sizes are kept on the host, beside the blocks:
// a GPU may still be using a block's memory when the host takes it back.
namespace {
std::mutex temporariesMutex;
std::unordered_map<void *, size_t> &temporarySizes() {
  static auto *sizes = new std::unordered_map<void *, size_t>();
  return *sizes;
}
} // namespace

extern "C" {
void *_mlir_memref_to_llvm_alloc(size_t size) {
  void *block = tetra::rt::device().allocateTemporary(size);
  if (!block)
    return nullptr;
  {
    std::lock_guard<std::mutex> lock(temporariesMutex);
    temporarySizes()[block] = size;
  }
  tetra::rt::countMemory(static_cast<int64_t>(size));
  return block;
}

void _mlir_memref_to_llvm_free(void *pointer) {
  if (!pointer)
    return;
  size_t size;
  {
    std::lock_guard<std::mutex> lock(temporariesMutex);
    auto found = temporarySizes().find(pointer);
    if (found == temporarySizes().end())
      std::abort(); // not a temporary of ours: memory is already corrupt
    size = found->second;
    temporarySizes().erase(found);
  }
  tetra::rt::countMemory(-static_cast<int64_t>(size));
  tetra::rt::device().releaseTemporary(pointer, size);
}
}
