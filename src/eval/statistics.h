// Summary statistics of per-token values, computed the way llama.cpp's perplexity tool does so
// that results can be put side by side (tools/perplexity/perplexity.cpp).
#pragma once

#include <span>
#include <vector>

namespace gptoss {

// The mean and its standard error: sqrt((mean(x²) − mean(x)²) / (n − 1)); 0 for n < 2.
struct MeanAndError {
  double mean = 0;
  double error = 0;
};
MeanAndError mean_and_error(std::span<const double> values);

// exp(mean negative log-likelihood) ± its standard error, by the delta method:
// d exp(m) = exp(m)·dm, so error = PPL · standard error of the mean NLL.
MeanAndError perplexity_of(std::span<const double> nll);

// The `fraction` quantile of ascending `sorted` values, interpolating linearly between ranks
// (fraction·(n − 1)); 0.5 is the median.
double quantile(const std::vector<double>& sorted, double fraction);

}  // namespace gptoss
