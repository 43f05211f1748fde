// What the sampler tests compare draws with: the distribution mlx_lm draws from, computed
// independently the way mlx_lm writes it (mlx_lm/sample_utils.py), and Pearson's chi-square test
// of drawn counts against it. Shared by the CPU sampler's tests and the GPU backend's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "gptoss/sampler.h"

namespace gptoss::test {

// The distribution mlx_lm's make_sampler draws from: log-softmax, then apply_top_p (ascending
// sort, keep where the cumulative probability exceeds 1 − top_p), apply_min_p, apply_top_k, and
// softmax(logprobs / temp) over what is left. The logits used here have no ties.
inline std::vector<double> mlx_lm_distribution(const std::vector<float>& logits, const SamplerOptions& o) {
  const size_t n = logits.size();
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max);
  std::vector<double> lp(n);
  for (size_t i = 0; i < n; ++i) lp[i] = logits[i] - max - std::log(sum);
  const double minus_inf = -std::numeric_limits<double>::infinity();
  std::vector<size_t> ascending(n);
  std::iota(ascending.begin(), ascending.end(), 0);
  std::sort(ascending.begin(), ascending.end(), [&](size_t a, size_t b) { return lp[a] < lp[b]; });
  if (o.top_p > 0 && o.top_p < 1) {
    double cumulative = 0;
    std::vector<double> filtered = lp;
    for (size_t i : ascending) {
      cumulative += std::exp(lp[i]);
      if (!(cumulative > 1 - o.top_p)) filtered[i] = minus_inf;
    }
    lp = filtered;
  }
  if (o.min_p != 0) {
    const double threshold = *std::max_element(lp.begin(), lp.end()) + std::log(o.min_p);
    std::vector<double> filtered = lp;
    for (size_t i = 0; i < n; ++i)
      if (lp[i] < threshold) filtered[i] = minus_inf;
    // The min_tokens_to_keep best keep their (possibly already −inf) log-probabilities.
    for (size_t r = 0; r < static_cast<size_t>(o.min_tokens_to_keep); ++r) filtered[ascending[n - 1 - r]] = lp[ascending[n - 1 - r]];
    lp = filtered;
  }
  if (o.top_k > 0)
    for (size_t r = static_cast<size_t>(o.top_k); r < n; ++r) lp[ascending[n - 1 - r]] = minus_inf;
  std::vector<double> p(n);
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += p[i] = std::exp(lp[i] / o.temperature);
  for (double& x : p) x /= total;
  return p;
}

// Upper 0.1% points of the chi-square distribution, degrees of freedom 1..20.
inline constexpr double kChiSquare999[] = {10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322,
                                    26.124, 27.877, 29.588, 31.264, 32.909, 34.528, 36.123,
                                    37.697, 39.252, 40.790, 42.312, 43.820, 45.315};

// Pearson's chi-square of `counts` (over `draws` draws) against `expected` over the tokens of
// non-zero probability, at the 0.1 % level; a token of probability zero, or beyond
// expected.size(), must never come.
inline void expect_counts_follow(const std::vector<int>& counts, const std::vector<double>& expected, int draws) {
  double chi_square = 0;
  int categories = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability zero";
      continue;
    }
    const double e = expected[i] * draws;
    ASSERT_GE(e, 5) << "too few draws for token " << i;
    chi_square += (counts[i] - e) * (counts[i] - e) / e;
    ++categories;
  }
  for (size_t i = expected.size(); i < counts.size(); ++i) EXPECT_EQ(counts[i], 0) << "token " << i << " is beyond the vocabulary";
  ASSERT_GE(categories, 2);
  EXPECT_LT(chi_square, kChiSquare999[categories - 2]) << categories - 1 << " degrees of freedom";
}

// Twelve tokens without ties, and four padding columns beyond the vocabulary (12) that would win.
inline const std::vector<float> kLogits = {2.0f, 1.55f, 1.2f, 0.9f, 0.52f, 0.3f, 0.05f, -0.4f,
                                           -0.9f, -1.5f, -2.1f, -3.0f, 9.f, 9.f, 9.f, 9.f};
inline const std::vector<float> kVocabLogits(kLogits.begin(), kLogits.begin() + 12);

// Sampler options with these filters and a fixed seed.
inline SamplerOptions with(float temperature, float top_p = 1, float min_p = 0, int top_k = 0) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_p = top_p;
  o.min_p = min_p;
  o.top_k = top_k;
  o.seed = 1234;
  return o;
}

}  // namespace gptoss::test
