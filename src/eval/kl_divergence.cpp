#include "eval/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gptoss {

namespace {

// p (log p − log q), with 0 · log 0 = 0.
double kl_term(double log_p, double log_q) { return log_p == -INFINITY ? 0.0 : std::exp(log_p) * (log_p - log_q); }

// The covariance of the means of a and b: (mean(ab) − mean(a)·mean(b)) / (n − 1).
double covariance_of_means(std::span<const double> a, std::span<const double> b) {
  const auto n = static_cast<double>(a.size());
  if (a.size() < 2) return 0;
  double sa = 0, sb = 0, sab = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sa += a[i];
    sb += b[i];
    sab += a[i] * b[i];
  }
  return (sab / n - (sa / n) * (sb / n)) / (n - 1);
}

}  // namespace

double top_k_kl_divergence(std::span<const float> base_top_log_probs, double base_rest_log_prob,
                           std::span<const double> top_log_probs, double rest_log_prob) {
  double kl = kl_term(base_rest_log_prob, rest_log_prob);
  for (size_t i = 0; i < base_top_log_probs.size(); ++i) kl += kl_term(base_top_log_probs[i], top_log_probs[i]);
  return kl;
}

KlSummary summarize_kl(std::span<const double> kl, std::span<const uint8_t> same_top, std::span<const double> nll,
                       std::span<const float> base_target_log_prob) {
  KlSummary s;
  s.tokens = static_cast<int64_t>(kl.size());
  if (kl.empty()) return s;
  const auto n = static_cast<double>(kl.size());
  s.kl = mean_and_error(kl);
  std::vector<double> sorted(kl.begin(), kl.end());
  std::sort(sorted.begin(), sorted.end());
  s.kl_median = quantile(sorted, 0.5);
  s.kl_p99 = quantile(sorted, 0.99);
  s.kl_max = sorted.back();

  const double same = static_cast<double>(std::count(same_top.begin(), same_top.end(), 1)) / n;
  s.same_top = {same, kl.size() > 1 ? std::sqrt(same * (1 - same) / (n - 1)) : 0.0};

  std::vector<double> base_nll(base_target_log_prob.size());
  for (size_t i = 0; i < base_nll.size(); ++i) base_nll[i] = -static_cast<double>(base_target_log_prob[i]);
  const MeanAndError log_ppl = mean_and_error(nll), base_log_ppl = mean_and_error(base_nll);
  s.ppl = perplexity_of(nll);
  s.base_ppl = perplexity_of(base_nll);
  const double cov = covariance_of_means(nll, base_nll);
  // Both errors follow from the delta method on exp: d(e^a − e^b) = e^a da − e^b db, and
  // d e^(a − b) = e^(a − b) (da − db).
  s.ppl_difference = {s.ppl.mean - s.base_ppl.mean,
                      std::sqrt(std::max(0.0, s.ppl.error * s.ppl.error + s.base_ppl.error * s.base_ppl.error -
                                                  2 * s.ppl.mean * s.base_ppl.mean * cov))};
  const double ratio = std::exp(log_ppl.mean - base_log_ppl.mean);
  s.ppl_ratio = {ratio, ratio * std::sqrt(std::max(0.0, log_ppl.error * log_ppl.error +
                                                            base_log_ppl.error * base_log_ppl.error - 2 * cov))};
  return s;
}

}  // namespace gptoss
