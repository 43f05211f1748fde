// KL divergence over the top K plus the rest, and the statistics reported with it.
#include "eval/kl_divergence.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/statistics.h"

namespace gptoss {
namespace {

double full_kl(const std::vector<double>& p, const std::vector<double>& q) {
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

TEST(KlDivergence, TopKPlusRestIsTheKlOfTheMergedDistributions) {
  const std::vector<double> p = {0.5, 0.3, 0.1, 0.06, 0.04}, q = {0.4, 0.35, 0.1, 0.1, 0.05};
  // Top 2 of P kept; ids 2..4 merged into the rest.
  const std::vector<float> base_top = {static_cast<float>(std::log(0.5)), static_cast<float>(std::log(0.3))};
  const std::vector<double> top = {std::log(0.4), std::log(0.35)};
  const double kl = top_k_kl_divergence(base_top, std::log(0.2), top, std::log(0.25));
  EXPECT_NEAR(kl, full_kl({0.5, 0.3, 0.2}, {0.4, 0.35, 0.25}), 1e-7);
  EXPECT_LT(kl, full_kl(p, q));  // merging outcomes loses divergence, never adds it
  const std::vector<double> same = {std::log(0.5), std::log(0.3)};
  EXPECT_NEAR(top_k_kl_divergence(base_top, std::log(0.2), same, std::log(0.2)), 0.0, 1e-7);  // float storage
  // A rest without mass adds nothing (0 · log 0 = 0).
  const std::vector<float> certain = {0.f};
  const std::vector<double> unsure = {std::log(0.9)};
  EXPECT_NEAR(top_k_kl_divergence(certain, -INFINITY, unsure, std::log(0.1)), -std::log(0.9), 1e-12);
}

TEST(Statistics, MeanErrorQuantilesAndPerplexity) {
  const std::vector<double> v = {1, 2, 3, 4};
  const MeanAndError m = mean_and_error(v);
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_DOUBLE_EQ(m.error, std::sqrt(1.25 / 3));  // population variance / (n − 1), as llama.cpp
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4);
  EXPECT_DOUBLE_EQ(quantile(v, 0.99), 3.97);
  EXPECT_DOUBLE_EQ(quantile({7}, 0.99), 7);
  const MeanAndError ppl = perplexity_of(v);
  EXPECT_DOUBLE_EQ(ppl.mean, std::exp(2.5));
  EXPECT_DOUBLE_EQ(ppl.error, std::exp(2.5) * m.error);
  EXPECT_EQ(mean_and_error(std::vector<double>{3}).error, 0);
}

TEST(KlSummary, ReportsDistributionAgreementAndPerplexityDifference) {
  const std::vector<double> kl = {0.0, 0.1, 0.2, 0.3, 0.4};
  const std::vector<uint8_t> same = {1, 1, 1, 0, 1};
  const std::vector<double> nll = {1.0, 2.0, 3.0, 2.0, 1.0};
  const std::vector<float> base_log_prob = {-1.f, -2.f, -3.f, -2.f, -1.f};
  const KlSummary s = summarize_kl(kl, same, nll, base_log_prob);
  EXPECT_EQ(s.tokens, 5);
  EXPECT_NEAR(s.kl.mean, 0.2, 1e-12);
  EXPECT_NEAR(s.kl_median, 0.2, 1e-12);
  EXPECT_NEAR(s.kl_p99, 0.396, 1e-12);
  EXPECT_NEAR(s.kl_max, 0.4, 1e-12);
  EXPECT_NEAR(s.same_top.mean, 0.8, 1e-12);
  EXPECT_NEAR(s.same_top.error, std::sqrt(0.8 * 0.2 / 4), 1e-12);
  // Identical NLLs: no difference, and no uncertainty about it (the two are fully correlated).
  EXPECT_NEAR(s.ppl.mean, s.base_ppl.mean, 1e-9);
  EXPECT_NEAR(s.ppl_difference.mean, 0, 1e-9);
  EXPECT_NEAR(s.ppl_difference.error, 0, 1e-6);
  EXPECT_NEAR(s.ppl_ratio.mean, 1, 1e-12);
  EXPECT_GT(s.ppl.error, 0);
}

}  // namespace
}  // namespace gptoss
