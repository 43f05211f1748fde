#include "eval/statistics.h"

#include <cmath>

namespace gptoss {

MeanAndError mean_and_error(std::span<const double> values) {
  const auto n = static_cast<double>(values.size());
  if (values.empty()) return {};
  double sum = 0, sum_squares = 0;
  for (const double v : values) {
    sum += v;
    sum_squares += v * v;
  }
  const double mean = sum / n;
  const double variance = sum_squares / n - mean * mean;
  return {mean, values.size() > 1 && variance > 0 ? std::sqrt(variance / (n - 1)) : 0.0};
}

MeanAndError perplexity_of(std::span<const double> nll) {
  const MeanAndError m = mean_and_error(nll);
  const double ppl = std::exp(m.mean);
  return {ppl, ppl * m.error};
}

double quantile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const double rank = fraction * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<size_t>(rank);
  if (below + 1 >= sorted.size()) return sorted.back();
  const double t = rank - static_cast<double>(below);
  return (1 - t) * sorted[below] + t * sorted[below + 1];
}

}  // namespace gptoss
