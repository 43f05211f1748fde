#include <gtest/gtest.h>

#include <atomic>

#include "backend/cpu/thread_pool.h"

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

}  // namespace
}  // namespace gptoss
