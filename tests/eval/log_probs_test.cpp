// The log-softmax reductions of a logits row against a direct double-precision computation.
#include "eval/log_probs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "support/test_support.h"

namespace gptoss {
namespace {

struct Reference {
  std::vector<double> log_probs;
  double log_sum_exp(const std::vector<int32_t>& outside_of) const {
    std::vector<bool> excluded(log_probs.size());
    for (const int32_t id : outside_of) excluded[static_cast<size_t>(id)] = true;
    double sum = 0;
    for (size_t i = 0; i < log_probs.size(); ++i)
      if (!excluded[i]) sum += std::exp(log_probs[i]);
    return std::log(sum);
  }
};

Reference reference(const std::vector<float>& logits) {
  double max = logits[0];
  for (const float v : logits) max = std::max(max, static_cast<double>(v));
  double sum = 0;
  for (const float v : logits) sum += std::exp(v - max);
  Reference r;
  for (const float v : logits) r.log_probs.push_back(v - max - std::log(sum));
  return r;
}

void expect_matches_reference(const std::vector<float>& logits, int32_t target, const std::vector<int32_t>& kept) {
  const Reference ref = reference(logits);
  std::vector<double> kept_log_probs(kept.size());
  std::vector<float> scratch(logits.size());
  const RowLogProbs p = row_log_probs(logits, target, kept, kept_log_probs, scratch);
  EXPECT_NEAR(p.target, ref.log_probs[static_cast<size_t>(target)], 1e-6);
  for (size_t i = 0; i < kept.size(); ++i)
    EXPECT_NEAR(kept_log_probs[i], ref.log_probs[static_cast<size_t>(kept[i])], 1e-6);
  EXPECT_NEAR(p.rest, kept.empty() ? 0.0 : ref.log_sum_exp(kept), 1e-6);
  EXPECT_EQ(p.max_logit, *std::max_element(logits.begin(), logits.end()));
}

TEST(LogProbs, MatchADirectComputationOverTheWholeVocabulary) {
  for (const size_t n : {size_t{201088}, size_t{1000}, size_t{1031}, size_t{5}}) {
    std::vector<float> logits = test::random_floats(n, static_cast<uint32_t>(n), 3.f);
    std::vector<int32_t> top(std::min<size_t>(n - 1, 32));
    top_k_ids(logits, top);
    expect_matches_reference(logits, 3, {});
    expect_matches_reference(logits, 4, top);
  }
}

TEST(LogProbs, TheRestStaysExactWhenTheTopHoldsAlmostEverything) {
  std::vector<float> logits(201088, -20.f);
  logits[7] = 25.f;  // p(7) = 1 − 2e-15: the rest is far below double rounding of 1 − p(7)
  const std::vector<int32_t> kept = {7};
  std::vector<double> kept_log_probs(1);
  std::vector<float> scratch(logits.size());
  const RowLogProbs p = row_log_probs(logits, 7, kept, kept_log_probs, scratch);
  const double rest = std::log(201087.0) - 45.0;  // log(201087·e^−20 / e^25), to first order
  EXPECT_NEAR(p.rest, rest, 1e-5);
  EXPECT_NEAR(p.target, 0.0, 1e-12);
}

TEST(LogProbs, LogitsFarBelowTheMaximumContributeNothing) {
  std::vector<float> logits = {0.f, -200.f, -1e30f, -INFINITY};
  std::vector<float> scratch(logits.size());
  const RowLogProbs p = row_log_probs(logits, 0, {}, {}, scratch);
  EXPECT_NEAR(p.target, 0.0, 1e-12);
}

TEST(LogProbs, TopKIsOrderedAndBreaksTiesByLowerId) {
  const std::vector<float> logits = {1.f, 5.f, 3.f, 5.f, -2.f, 3.f, 4.f, 3.f};
  std::vector<int32_t> top(5);
  top_k_ids(logits, top);
  EXPECT_EQ(top, (std::vector<int32_t>{1, 3, 6, 2, 5}));
  std::vector<int32_t> one(1);
  top_k_ids(logits, one);
  EXPECT_EQ(one[0], 1);
  EXPECT_EQ(first_argmax(logits, 5.f), 1);
}

TEST(LogProbs, TopKOfALargeRowMatchesASort) {
  const std::vector<float> logits = test::random_floats(201088, 11);
  std::vector<int32_t> sorted(logits.size());
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<int32_t> top(32);
  top_k_ids(logits, top);
  EXPECT_EQ(top, std::vector<int32_t>(sorted.begin(), sorted.begin() + 32));
}

}  // namespace
}  // namespace gptoss
