//===- CommunicationThread.h - collectives that progress beside the kernels ===//
//
// The kernels' collectives run on one thread of their own, in the order the
// kernels start them (the same order on every rank, so every communicator
// sees its collectives in one order). A start returns at once with a handle;
// the kernel waits on it where it needs the result, and computes meanwhile.
// Synchronous collectives are a start and an immediate wait, on the same
// thread, so MPI is only ever called from one thread at a time.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_COMMUNICATIONTHREAD_H
#define TETRA_RUNTIME_COMMUNICATIONTHREAD_H

#include "tetra/runtime/Trace.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tetra::rt {

class CommunicationThread {
public:
  CommunicationThread();
  ~CommunicationThread();
  CommunicationThread(const CommunicationThread &) = delete;
  CommunicationThread &operator=(const CommunicationThread &) = delete;

  /// Queues `work` (traced on `track` as `name`); returns its handle.
  int64_t start(std::string track, std::string name, std::function<void()> work,
                Trace::Args args = {});
  /// Blocks until the work of `handle` is done; the time blocked counts as
  /// exposed communication.
  void wait(int64_t handle);

private:
  void run();
  struct Task {
    int64_t handle;
    std::string track, name;
    std::function<void()> work;
    Trace::Args args;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Task> queue_;
  int64_t next_ = 0, done_ = 0; // handles below done_ are complete
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_COMMUNICATIONTHREAD_H
