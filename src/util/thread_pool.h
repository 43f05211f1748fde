// A fixed set of worker threads that split index ranges between them and the caller.
//
// Safe to share: any number of threads may call parallel_for at once. The pool runs one loop at
// a time (each loop already uses every core); concurrent callers take turns in arrival order.
// A loop body must not call parallel_for on the same pool (it would wait for itself).
//
// Decode runs a few hundred short loops per token, each a few tens of microseconds of work: a
// worker that finishes one waits for the next by spinning for a while (kSpin) before it sleeps
// on a condition variable, so that handing out a loop costs a cache-line write, not a futex
// wake per thread.
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
  // The most threads a pool may have; more is a mistake (a typo in --threads), not a wish.
  static constexpr int kMaxThreads = 1024;

  // `threads` in total including the caller; 0 = one per hardware thread. Throws gptoss::Error
  // when threads is negative or above kMaxThreads, or when the system cannot start them.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // A buffer owned by thread `thread` of the pool, for use inside one parallel_for body (loops
  // never overlap, so a body has it to itself).
  std::vector<float>& scratch(int thread) { return scratch_[static_cast<size_t>(thread)]; }
  std::vector<uint16_t>& scratch_bf16(int thread) { return scratch_bf16_[static_cast<size_t>(thread)]; }

  // Calls body(begin, end, thread) over [0, count) in chunks of `grain` indices, handed out
  // dynamically; thread is in [0, size()). Returns when all chunks are done.
  void parallel_for(int64_t count, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end, int thread)>& body);

 private:
  void worker_loop(int thread);
  void run_chunks(int thread);
  void stop_workers();

  std::vector<std::thread> workers_;
  std::vector<std::vector<float>> scratch_;
  std::vector<std::vector<uint16_t>> scratch_bf16_;
  std::mutex turn_;  // held by the caller whose loop runs
  // Waits until `generation_` differs from `seen` or the pool stops; false when it stops.
  bool wait_for_work(uint64_t seen);
  void wait_until_idle();

  std::mutex mutex_;  // guards sleeping: the condition variables' predicates are read under it
  std::condition_variable wake_;
  std::condition_variable done_;
  // The loop being run; written by the caller before it publishes a new generation_ (release)
  // and read by the workers after they see it (acquire).
  const std::function<void(int64_t, int64_t, int)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_{0};  // workers that have not finished the current generation
  std::atomic<bool> stop_{false};
};

}  // namespace gptoss
