#include "util/thread_pool.h"

#include <algorithm>
#include <string>
#include <system_error>

#include "gptoss/error.h"

namespace gptoss {

ThreadPool::ThreadPool(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw Error("threads: " + std::to_string(threads) + " is outside 0.." + std::to_string(kMaxThreads) +
                " (0 = one per hardware thread)");
  if (threads == 0) threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 
                                                          static_cast<unsigned>(kMaxThreads)));
  scratch_.resize(static_cast<size_t>(threads));
  try {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
  } catch (const std::system_error& e) {
    // Join the workers that did start before the members they wait on are destroyed.
    const size_t started = workers_.size();
    stop_workers();
    throw Error("cannot start " + std::to_string(threads) + " threads (started " + std::to_string(started + 1) +
                "): " + e.what());
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ThreadPool::run_chunks(int thread) {
  for (;;) {
    const int64_t begin = next_.fetch_add(grain_);
    if (begin >= count_) return;
    (*body_)(begin, std::min(count_, begin + grain_), thread);
  }
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_chunks(thread);
    {
      std::lock_guard lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t count, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  std::lock_guard turn(turn_);
  if (workers_.empty() || count <= grain) {
    body(0, count, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    grain_ = grain;
    next_.store(0);
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  run_chunks(0);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return busy_ == 0; });
  body_ = nullptr;
}

}  // namespace gptoss
