// The read-bandwidth probe behind gptoss bench's ceiling: a finite positive figure, from reads
// that really happened (the sum of every word is checked, so the loop cannot be optimized away).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "util/read_bandwidth.h"

namespace gptoss {
namespace {

TEST(ReadBandwidth, SumsEveryWordOfTheBuffer) {
  for (const int threads : {1, 3}) {
    // 64 MiB of words 0 … n−1: the sum is n(n−1)/2 with n = 8 Mi.
    const ReadBandwidth r = measure_read_bandwidth(threads, size_t{64} << 20, 2);
    const uint64_t n = (size_t{64} << 20) / 8;
    EXPECT_EQ(r.sum, n / 2 * (n - 1)) << threads << " threads";
    EXPECT_TRUE(std::isfinite(r.gb_per_second));
    EXPECT_GT(r.gb_per_second, 0.0);
    EXPECT_NE(std::string(r.kernel), "");
  }
}

TEST(ReadBandwidth, RoundsToWholeBlocksAndSplitsUnevenly) {
  // 1000 blocks of 64 words (plus a partial block, dropped) over 7 threads.
  const ReadBandwidth r = measure_read_bandwidth(7, 1000 * 512 + 100, 1);
  const uint64_t n = 1000 * 64;
  EXPECT_EQ(r.sum, n / 2 * (n - 1));
}

TEST(ReadBandwidth, TheDefaultMeasurementIsAFinitePositiveRate) {
  const double gbs = measure_read_bandwidth_gbs(0);
  EXPECT_TRUE(std::isfinite(gbs));
  EXPECT_GT(gbs, 0.0);
}

}  // namespace
}  // namespace gptoss
