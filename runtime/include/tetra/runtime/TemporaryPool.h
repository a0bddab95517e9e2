//===- TemporaryPool.h - a GPU backend's temporaries, kept by size ---------===//
//
// The compiled code's temporaries on a GPU: a released block waits, by
// size, for the same thread's next allocation. Kernels still queued on the
// thread's stream (CUDA) or queue (HSA) may be using a released block;
// whatever the thread launches with it next queues behind them, so neither
// allocating nor releasing a temporary waits for the device. A training
// step asks for the same sizes every time, so after the first step every
// block comes from the pool.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_TEMPORARYPOOL_H
#define TETRA_RUNTIME_TEMPORARYPOOL_H

#include <cstddef>
#include <unordered_map>
#include <vector>

namespace tetra::rt {

class TemporaryPool {
public:
  /// A released block of `bytes`, or null when there is none.
  void *take(size_t bytes) {
    std::vector<void *> &blocks = released_[bytes];
    if (blocks.empty())
      return nullptr;
    void *block = blocks.back();
    blocks.pop_back();
    return block;
  }
  void give(void *block, size_t bytes) {
    if (block)
      released_[bytes].push_back(block);
  }
  /// Hands every pooled block to `free`; call it once the device is done
  /// with them (the thread's stream drained).
  template <typename Free> void drain(Free free) {
    for (auto &[bytes, blocks] : released_) {
      for (void *block : blocks)
        free(block);
      blocks.clear();
    }
  }
  /// The calling thread's pool. Never destroyed: at exit the driver may
  /// already be gone.
  static TemporaryPool &ofThisThread() {
    thread_local TemporaryPool *pool = new TemporaryPool();
    return *pool;
  }

private:
  std::unordered_map<size_t, std::vector<void *>> released_;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_TEMPORARYPOOL_H
