#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>
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
  scratch_bf16_.resize(static_cast<size_t>(threads));
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

namespace {

// How long a thread spins for the next loop (or for the last workers of its own) before it
// sleeps. Decode's gaps between loops (a norm, the router's top-k) are microseconds; the gap
// between tokens of an interactive session is milliseconds and ends in sleep.
constexpr auto kSpin = std::chrono::microseconds(100);

void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or until kSpin has passed; returns done().
template <class Done>
bool spin_until(const Done& done) {
  const auto give_up = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > give_up) return done();
  }
}

}  // namespace

void ThreadPool::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
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

bool ThreadPool::wait_for_work(uint64_t seen) {
  const auto ready = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
  if (!spin_until(ready)) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, ready);
  }
  return !stop_.load(std::memory_order_acquire);
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;
  while (wait_for_work(seen)) {
    seen = generation_.load(std::memory_order_acquire);
    run_chunks(thread);
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep on done_: notify under the mutex so that it cannot check the
      // predicate, miss this, and then sleep.
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::wait_until_idle() {
  const auto idle = [&] { return busy_.load(std::memory_order_acquire) == 0; };
  if (spin_until(idle)) return;
  std::unique_lock lock(mutex_);
  done_.wait(lock, idle);
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
  body_ = &body;
  count_ = count;
  grain_ = grain;
  next_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the mutex: a worker about to sleep checks the generation under it too.
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks(0);
  wait_until_idle();
  body_ = nullptr;
}

}  // namespace gptoss
