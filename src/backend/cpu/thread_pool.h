// A fixed set of worker threads that split index ranges between them and the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gptoss {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // total threads including the caller; 0 = hardware threads
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // A buffer owned by thread `thread` of the pool, for use inside one parallel_for body.
  std::vector<float>& scratch(int thread) { return scratch_[static_cast<size_t>(thread)]; }

  // Calls body(begin, end, thread) over [0, count) in chunks of `grain` indices, handed out
  // dynamically; thread is in [0, size()). Returns when all chunks are done. Not reentrant.
  void parallel_for(int64_t count, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int thread)>& body);

 private:
  void worker_loop(int thread);
  void run_chunks(int thread);

  std::vector<std::thread> workers_;
  std::vector<std::vector<float>> scratch_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t, int)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
  uint64_t generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
};

}  // namespace gptoss
