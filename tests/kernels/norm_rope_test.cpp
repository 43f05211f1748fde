// RMSNorm, RoPE and the YaRN frequencies against their formulas and the published values.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/norm_rope.h"
#include "model/rope.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

ModelConfig gpt_oss_rope_config() {
  ModelConfig c;
  c.head_dim = 64;
  c.rope_theta = 150000;
  c.rope_scaling.type = "yarn";
  c.rope_scaling.factor = 32;
  c.rope_scaling.beta_fast = 32;
  c.rope_scaling.beta_slow = 1;
  c.rope_scaling.original_max_position_embeddings = 4096;
  c.rope_scaling.truncate = false;
  return c;
}

TEST(Yarn, FrequenciesOfGptOss) {
  // Reference values from docs/FORMATS.md (computed by the transformers implementation).
  const RopeParameters p = rope_parameters(gpt_oss_rope_config());
  ASSERT_EQ(p.inv_freq.size(), 32u);
  const std::pair<int, double> expected[] = {{0, 1.0},          {1, 0.6890443},     {8, 0.05081327},
                                             {9, 0.03170570},   {12, 6.794959e-3},  {17, 1.293187e-4},
                                             {18, 3.830881e-5}, {31, 3.023511e-7}};
  for (const auto& [i, value] : expected) EXPECT_NEAR(p.inv_freq[static_cast<size_t>(i)], value, value * 2e-6) << i;
  EXPECT_NEAR(p.attention_scaling, 1.3465735902799727, 1e-7);
}

TEST(Yarn, TruncateRoundsTheRamp) {
  ModelConfig c = gpt_oss_rope_config();
  c.rope_scaling.truncate = true;
  const RopeParameters truncated = rope_parameters(c), exact = rope_parameters(gpt_oss_rope_config());
  EXPECT_EQ(truncated.inv_freq[8], exact.inv_freq[8]);  // i ≤ 8: pure extrapolation either way
  EXPECT_NE(truncated.inv_freq[9], exact.inv_freq[9]);  // the blend moves with the rounded bounds
  // With low = 8, high = 18: ramp at 13 is exactly 0.5.
  const double extrapolation = 1.0 / std::pow(150000.0, 26.0 / 64), interpolation = extrapolation / 32;
  EXPECT_NEAR(truncated.inv_freq[13], 0.5 * extrapolation + 0.5 * interpolation, 1e-9);
}

TEST(Rope, PlainRopeHasUnitScaling) {
  ModelConfig c = gpt_oss_rope_config();
  c.rope_scaling = RopeScaling{};
  const RopeParameters p = rope_parameters(c);
  EXPECT_EQ(p.attention_scaling, 1.f);
  EXPECT_NEAR(p.inv_freq[16], 1.0 / std::pow(150000.0, 0.5), 1e-9);
}

TEST(Rope, RotatesHalfSplitPairs) {
  const RopeParameters p = rope_parameters(gpt_oss_rope_config());
  const int heads = 3, dim = 64;
  const std::vector<int32_t> positions = {0, 5, 4095};
  auto x = test::random_floats(static_cast<size_t>(positions.size() * heads * dim), 3);
  const auto original = x;
  rope_rows(x.data(), static_cast<int64_t>(positions.size()), heads, dim, positions.data(), p);
  for (size_t r = 0; r < positions.size(); ++r)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < dim / 2; ++i) {
        const size_t base = (r * heads + static_cast<size_t>(h)) * dim;
        const double theta = double(float(positions[r]) * p.inv_freq[static_cast<size_t>(i)]);
        const double c = std::cos(theta) * p.attention_scaling, s = std::sin(theta) * p.attention_scaling;
        const double x1 = original[base + static_cast<size_t>(i)], x2 = original[base + static_cast<size_t>(i) + dim / 2];
        EXPECT_NEAR(x[base + static_cast<size_t>(i)], x1 * c - x2 * s, 1e-5);
        EXPECT_NEAR(x[base + static_cast<size_t>(i) + dim / 2], x2 * c + x1 * s, 1e-5);
      }
}

TEST(RmsNorm, MatchesFormula) {
  const int64_t rows = 5, cols = 96;
  const auto x = test::random_floats(static_cast<size_t>(rows * cols), 4, 3.f);
  const auto w = test::random_floats(static_cast<size_t>(cols), 5);
  std::vector<float> out(x.size());
  rmsnorm_rows(x.data(), rows, cols, w.data(), 1e-5f, out.data());
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t c = 0; c < cols; ++c) ms += double(x[r * cols + c]) * x[r * cols + c];
    const double inv = 1 / std::sqrt(ms / cols + 1e-5);
    for (int64_t c = 0; c < cols; ++c) EXPECT_NEAR(out[r * cols + c], x[r * cols + c] * inv * w[c], 1e-5);
  }
}

}  // namespace
}  // namespace gptoss
