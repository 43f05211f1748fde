// The window/stride arithmetic on hand-built token streams: which tokens each protocol scores
// and from which context.
#include "eval/windows.h"

#include <gtest/gtest.h>

#include <functional>
#include <numeric>

#include "gptoss/error.h"

namespace gptoss {
namespace {

using Windows = std::vector<Window>;

TEST(Windows, StrideEqualToWindowGivesIndependentWindowsWithoutTheirFirstToken) {
  // Tokens 0..9, windows of 4: 0 1 2 3 | 4 5 6 7 | 8 9 — tokens 0, 4 and 8 start a window.
  EXPECT_EQ(strided_windows(10, 4, 4), (Windows{{0, 4, 1}, {4, 8, 5}, {8, 10, 9}}));
  EXPECT_EQ(scored_tokens(strided_windows(10, 4, 4)), 7);
  EXPECT_EQ(strided_windows(12, 4, 4), (Windows{{0, 4, 1}, {4, 8, 5}, {8, 12, 9}}));
}

TEST(Windows, ALastWindowOfOneTokenScoresNothingAndIsDropped) {
  EXPECT_EQ(strided_windows(9, 4, 4), (Windows{{0, 4, 1}, {4, 8, 5}}));
}

TEST(Windows, StrideBelowWindowScoresTheLastStrideTokensOfEachWindow) {
  // Windows of 4 every 2 tokens: the first scores 1..3, each later one the 2 tokens past the
  // previous window's end, with the 2 before them as context.
  EXPECT_EQ(strided_windows(10, 4, 2), (Windows{{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}}));
  // The last window is cut at the end of the stream and scores what is left.
  EXPECT_EQ(strided_windows(9, 4, 3), (Windows{{0, 4, 1}, {3, 7, 4}, {6, 9, 7}}));
  EXPECT_EQ(strided_windows(8, 6, 1), (Windows{{0, 6, 1}, {1, 7, 6}, {2, 8, 7}}));
}

TEST(Windows, AStreamShorterThanAWindowIsOneWindow) {
  // E.g. short documents joined by EOS: windows run over the stream, not per document.
  EXPECT_EQ(strided_windows(5, 4096, 4096), (Windows{{0, 5, 1}}));
  EXPECT_EQ(strided_windows(5, 4096, 512), (Windows{{0, 5, 1}}));
  EXPECT_EQ(strided_windows(2, 8, 8), (Windows{{0, 2, 1}}));
}

TEST(Windows, EveryTokenButTheFirstIsScoredOnceWithEnoughContext) {
  for (int64_t n : {2, 3, 7, 64, 100, 1000})
    for (int64_t window : {2, 3, 8, 64, 256})
      for (int64_t stride : {int64_t{1}, window / 2, window - 1, window}) {
        if (stride < 1) continue;
        const Windows windows = strided_windows(n, window, stride);
        std::vector<int> times(static_cast<size_t>(n));
        for (size_t i = 0; i < windows.size(); ++i) {
          const Window& w = windows[i];
          ASSERT_LE(w.end - w.begin, window);
          ASSERT_GT(w.first_scored, w.begin);
          ASSERT_GT(w.scored(), 0);
          if (i > 0 && stride < window) {
            ASSERT_GE(w.first_scored - w.begin, window - stride);
          }
          for (int64_t t = w.first_scored; t < w.end; ++t) ++times[static_cast<size_t>(t)];
        }
        for (int64_t t = 0; t < n; ++t) {
          const bool window_start = t == 0 || (stride == window && t % window == 0);
          EXPECT_EQ(times[static_cast<size_t>(t)], window_start ? 0 : 1)
              << "token " << t << " of " << n << ", window " << window << ", stride " << stride;
        }
      }
}

TEST(Windows, LlamaCppChunksScoreTheirSecondHalf) {
  // llama-perplexity -c 512: 4 whole chunks of 2100 tokens, each scoring 255 tokens.
  const Windows chunks = llama_cpp_chunks(2100, 512, 0);
  ASSERT_EQ(chunks.size(), 4u);
  for (size_t i = 0; i < chunks.size(); ++i)
    {
    const auto begin = 512 * static_cast<int64_t>(i);
    EXPECT_EQ(chunks[i], (Window{begin, begin + 512, begin + 257}));
  }
  EXPECT_EQ(scored_tokens(chunks), 4 * 255);
  EXPECT_EQ(llama_cpp_chunks(2100, 512, 2).size(), 2u);
  EXPECT_EQ(llama_cpp_chunks(7, 3, 0), (Windows{{0, 3, 2}, {3, 6, 5}}));
}

void expect_error(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Windows, BadArgumentsAreErrors) {
  expect_error([] { strided_windows(100, 64, 0); }, "stride 0");
  expect_error([] { strided_windows(100, 64, 65); }, "stride 65");
  expect_error([] { strided_windows(100, 1, 1); }, "window 1");
  expect_error([] { strided_windows(1, 64, 64); }, "1 token");
  expect_error([] { strided_windows(0, 64, 64); }, "0 token");
  expect_error([] { llama_cpp_chunks(511, 512, 0); }, "fewer than one chunk of 512");
  expect_error([] { llama_cpp_chunks(100, 2, 0); }, "context 2");
}

TEST(Windows, FingerprintChangesWithTokensAndWindows) {
  std::vector<int32_t> tokens(100);
  std::iota(tokens.begin(), tokens.end(), 0);
  const uint64_t base = evaluation_fingerprint(tokens, strided_windows(100, 16, 16));
  EXPECT_EQ(base, evaluation_fingerprint(tokens, strided_windows(100, 16, 16)));
  EXPECT_NE(base, evaluation_fingerprint(tokens, strided_windows(100, 16, 8)));
  tokens[50] = 7;
  EXPECT_NE(base, evaluation_fingerprint(tokens, strided_windows(100, 16, 16)));
  EXPECT_EQ(longest_window(strided_windows(100, 16, 16)), 16);
}

}  // namespace
}  // namespace gptoss
