#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gptoss/error.h"

#include "util/thread_pool.h"

namespace gptoss {
namespace {

TEST(ThreadPool, VisitsEveryIndexOnceAcrossManyRounds) {
  ThreadPool pool(3);
  for (int64_t count : {0, 1, 5, 1000, 4097}) {
    for (int64_t grain : {1, 7, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      std::atomic<int> max_thread{0};
      pool.parallel_for(count, grain, [&](int64_t begin, int64_t end, int thread) {
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
        int seen = max_thread.load();
        while (thread > seen && !max_thread.compare_exchange_weak(seen, thread)) {}
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      EXPECT_LT(max_thread.load(), pool.size());
    }
  }
}

TEST(ThreadPool, SingleThreadRunsInline) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.size(), 1);
  int64_t total = 0;
  pool.parallel_for(10, 3, [&](int64_t b, int64_t e, int t) {
    EXPECT_EQ(t, 0);
    total += e - b;
  });
  EXPECT_EQ(total, 10);
}


// Sessions on one model share its pool: loops from several threads take turns, each whole.
TEST(ThreadPool, LoopsFromManyThreadsEachVisitEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 6; ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        const int64_t count = 100 + 37 * c + round;
        std::vector<int> hits(static_cast<size_t>(count));  // plain ints: a body owns its chunks
        pool.parallel_for(count, 3, [&](int64_t begin, int64_t end, int thread) {
          std::vector<float>& scratch = pool.scratch(thread);
          scratch.assign(4, static_cast<float>(c));  // another loop's body would overwrite it
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
          if (scratch[3] != static_cast<float>(c)) failures++;
        });
        for (int h : hits)
          if (h != 1) failures++;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, RefusesNegativeAndAbsurdThreadCounts) {
  EXPECT_THROW(ThreadPool(-3), Error);
  EXPECT_THROW(ThreadPool(ThreadPool::kMaxThreads + 1), Error);
  EXPECT_THROW(ThreadPool(10000), Error);
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)  // their shadow memory needs the address space RLIMIT_AS takes
// When the system cannot start the threads (here: no address space left for their stacks), the
// constructor throws instead of hanging on the workers it did start.
TEST(ThreadPool, FailsCleanlyWhenThreadsCannotStart) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit limit{};
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = 512ull << 20;  // room for a few 8 MiB stacks, not a thousand
    setrlimit(RLIMIT_AS, &limit);
    try {
      ThreadPool pool(ThreadPool::kMaxThreads);
    } catch (const Error&) {
      _exit(0);
    } catch (...) {
      _exit(2);
    }
    _exit(1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child hung or crashed";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

}  // namespace
}  // namespace gptoss
