#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gptoss {

RopeParameters rope_parameters(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  const auto theta = static_cast<float>(c.rope_theta);
  RopeParameters p;
  p.inv_freq.resize(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i)
    p.inv_freq[static_cast<size_t>(i)] =
        1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
  const RopeScaling& s = c.rope_scaling;
  if (s.type != "yarn") return p;

  const double d = c.head_dim, base = c.rope_theta, context = s.original_max_position_embeddings;
  const auto correction_dim = [&](double rotations) {
    return d * std::log(context / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, d - 1);
  if (low == high) high += 0.001;  // avoids a division by zero, as transformers does
  const auto factor = static_cast<float>(s.factor);
  for (int i = 0; i < half; ++i) {
    float& f = p.inv_freq[static_cast<size_t>(i)];
    const float extrapolation = f;
    const float interpolation = 1.0f / (factor * std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(c.head_dim)));
    const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
    const float extrapolation_weight = 1.0f - ramp;
    f = interpolation * (1.0f - extrapolation_weight) + extrapolation * extrapolation_weight;
  }
  p.attention_scaling = s.attention_factor ? static_cast<float>(*s.attention_factor)
                                           : static_cast<float>(0.1 * std::log(s.factor) + 1.0);
  return p;
}

}  // namespace gptoss
