//===- CommunicationThread.cpp - collectives beside the kernels -----------===//
#include "tetra/runtime/CommunicationThread.h"
#include "tetra/runtime/Trace.h"

namespace tetra::rt {

CommunicationThread::CommunicationThread() : thread_([this] { run(); }) {}

CommunicationThread::~CommunicationThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

int64_t CommunicationThread::start(std::string track, std::string name,
                                   std::function<void()> work, Trace::Args args) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t handle = next_++;
  queue_.push_back(
      {handle, std::move(track), std::move(name), std::move(work), std::move(args)});
  changed_.notify_all();
  return handle;
}

void CommunicationThread::wait(int64_t handle) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (handle < done_)
    return;
  double begin = trace().now();
  changed_.wait(lock, [&] { return handle < done_; });
  double end = trace().now();
  trace().addExposed(end - begin);
  trace().record("compute", "wait", begin, end);
}

void CommunicationThread::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    double begin = trace().now();
    task.work();
    trace().record(task.track, task.name, begin, trace().now(), std::move(task.args));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = task.handle + 1; // tasks finish in order
    }
    changed_.notify_all();
  }
}

} // namespace tetra::rt
