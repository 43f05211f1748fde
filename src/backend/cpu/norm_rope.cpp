#include "backend/cpu/norm_rope.h"

#include <cmath>
#include <vector>

namespace gptoss {

void rmsnorm_rows(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    double sum_sq = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum_sq += static_cast<double>(xr[c]) * xr[c];
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(cols) + eps));
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = weight[c] * (xr[c] * inv_rms);
  }
}

void rope_rows(float* x, int64_t rows, int heads, int head_dim, const int32_t* positions,
               const RopeParameters& rope) {
  const int half = head_dim / 2;
  std::vector<float> cos_t(static_cast<size_t>(half)), sin_t(static_cast<size_t>(half));
  for (int64_t r = 0; r < rows; ++r) {
    const float position = static_cast<float>(positions[r]);
    for (int i = 0; i < half; ++i) {
      const float theta = position * rope.inv_freq[static_cast<size_t>(i)];
      cos_t[static_cast<size_t>(i)] = static_cast<float>(std::cos(static_cast<double>(theta))) * rope.attention_scaling;
      sin_t[static_cast<size_t>(i)] = static_cast<float>(std::sin(static_cast<double>(theta))) * rope.attention_scaling;
    }
    for (int h = 0; h < heads; ++h) {
      float* v = x + (r * heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float x1 = v[i], x2 = v[i + half];
        const float c = cos_t[static_cast<size_t>(i)], s = sin_t[static_cast<size_t>(i)];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

}  // namespace gptoss
