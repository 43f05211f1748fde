// Routing (top-k, then softmax over the k), the clamped SwiGLU, and the whole MoE block
// against a per-token evaluation with the reference linear.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/linear.h"
#include "backend/cpu/moe.h"
#include "quant/float_formats.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

TEST(Routing, TopKThenSoftmaxOverTheK) {
  const float logits[6] = {0.5f, 3.f, -1.f, 2.f, 3.f, 1.f};
  const auto chosen = route_token(logits, 6, 3);
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0].expert, 1);  // tie with 4: lower index first
  EXPECT_EQ(chosen[1].expert, 4);
  EXPECT_EQ(chosen[2].expert, 3);
  const double z = 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(chosen[0].weight, std::exp(3.0) / z, 1e-7);
  EXPECT_NEAR(chosen[2].weight, std::exp(2.0) / z, 1e-7);
}

TEST(SwiGlu, ClampsGateAboveAndUpBothSides) {
  const float gate[4] = {10.f, -3.f, 0.5f, 7.f};
  const float up[4] = {-10.f, 8.f, 0.25f, 1.f};
  float out[4];
  swiglu(gate, up, 4, 7.f, 1.702f, out);
  const auto expected = [](double g, double u) {
    g = std::min(g, 7.0);
    u = std::clamp(u, -7.0, 7.0);
    return (u + 1) * g / (1 + std::exp(-1.702 * g));
  };
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], expected(gate[i], up[i]), 1e-6 * (1 + std::abs(out[i]))) << i;
}

// Each SIMD set's SwiGLU (its own exp) against the reference, on random values on both sides of
// the clamp, with a length that leaves a tail, and a NaN in gate or up staying NaN.
TEST(SwiGlu, EveryKernelSetMatchesTheReference) {
  const int64_t n = 1003;
  auto gate = test::random_floats(static_cast<size_t>(n), 41, 6.f), up = test::random_floats(static_cast<size_t>(n), 42, 6.f);
  gate[5] = std::nanf("");
  up[9] = std::nanf("");
  std::vector<float> expected(static_cast<size_t>(n));
  swiglu(gate.data(), up.data(), n, 7.f, 1.702f, expected.data());
  int tested = 0;
  for (const CpuKernels* k : {&scalar_kernels(), avx2_kernels(), avx512_kernels()}) {
    if (k == nullptr) continue;
    ++tested;
    std::vector<float> out(static_cast<size_t>(n), -1.f);
    k->swiglu(gate.data(), up.data(), n, 7.f, 1.702f, out.data());
    for (size_t i = 0; i < out.size(); ++i) {
      if (std::isnan(expected[i])) {
        EXPECT_TRUE(std::isnan(out[i])) << k->name << ", " << i;
        continue;
      }
      ASSERT_NEAR(out[i], expected[i], 1e-6 * (1 + std::abs(expected[i]))) << k->name << ", " << i;
    }
  }
  std::printf("SwiGLU compared on %d kernel sets\n", tested);
}

struct RandomMoe {
  // Large enough that the pool's workers, not only the caller, take chunks of each loop.
  int64_t hidden = 512, inter = 256, experts = 6;
  std::vector<uint16_t> router, gate, up, down;  // bf16
  std::vector<float> router_bias, gate_bias, up_bias, down_bias, norm;
  MoeWeights w;

  static Matrix bf16_stack(const std::vector<uint16_t>& data, int64_t count, int64_t rows, int64_t cols) {
    Matrix m{.format = WeightFormat::bf16, .count = count, .rows = rows, .cols = cols};
    m.weight = reinterpret_cast<const uint8_t*>(data.data());
    m.weight_row_stride = cols * 2;
    m.weight_matrix_stride = rows * cols * 2;
    return m;
  }
  static std::vector<uint16_t> random_bf16(size_t n, uint32_t seed, float stddev) {
    std::vector<uint16_t> out(n);
    const auto f = test::random_floats(n, seed, stddev);
    for (size_t i = 0; i < n; ++i) out[i] = f32_to_bf16(f[i]);
    return out;
  }

  RandomMoe() {
    router = random_bf16(static_cast<size_t>(experts * hidden), 1, 0.3f);
    gate = random_bf16(static_cast<size_t>(experts * inter * hidden), 2, 0.5f);
    up = random_bf16(static_cast<size_t>(experts * inter * hidden), 3, 0.5f);
    down = random_bf16(static_cast<size_t>(experts * hidden * inter), 4, 0.2f);
    router_bias = test::random_floats(static_cast<size_t>(experts), 5);
    gate_bias = test::random_floats(static_cast<size_t>(experts * inter), 6);
    up_bias = test::random_floats(static_cast<size_t>(experts * inter), 7);
    down_bias = test::random_floats(static_cast<size_t>(experts * hidden), 8);
    w.router = bf16_stack(router, 1, experts, hidden);
    w.router_bias = {router_bias.data(), experts};
    w.gate = bf16_stack(gate, experts, inter, hidden);
    w.up = bf16_stack(up, experts, inter, hidden);
    w.down = bf16_stack(down, experts, hidden, inter);
    w.gate_bias = {gate_bias.data(), experts * inter};
    w.up_bias = {up_bias.data(), experts * inter};
    w.down_bias = {down_bias.data(), experts * hidden};
  }
};

// 1 … 4 rows take the decode path (all selected experts in two pool loops). Beyond, experts with
// at most 4 routed rows still do, the others take prefill's blocks: 6 rows route ≤ 4 to every
// expert here, 5 and 9 split them between both paths, 400 (1200 routed rows) are all prefill,
// in several groups (kPrefillGroupRows).
class Moe : public testing::TestWithParam<int64_t> {};

TEST_P(Moe, MatchesPerTokenReference) {
  const RandomMoe moe;
  const MoeParameters p{static_cast<int>(moe.experts), 3, 7.f, 1.702f};
  const int64_t rows = GetParam();
  const auto x = test::random_floats(static_cast<size_t>(rows * moe.hidden), 11 + static_cast<uint32_t>(rows));
  std::vector<float> out(x.size(), std::nanf(""));  // poisoned: every element must be written
  ThreadPool pool(3);
  moe_rows(x.data(), rows, moe.w, p, out.data(), pool);

  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * moe.hidden;
    std::vector<float> logits(static_cast<size_t>(moe.experts));
    linear_reference({xr, 1, &moe.w.router, 0, moe.router_bias.data(), logits.data(), moe.experts});
    std::vector<double> expected(static_cast<size_t>(moe.hidden), 0.0);
    for (const ExpertChoice& c : route_token(logits.data(), static_cast<int>(moe.experts), 3)) {
      std::vector<float> g(static_cast<size_t>(moe.inter)), u(g.size()), a(g.size()), y(static_cast<size_t>(moe.hidden));
      linear_reference({xr, 1, &moe.w.gate, c.expert, moe.gate_bias.data() + c.expert * moe.inter, g.data(), moe.inter});
      linear_reference({xr, 1, &moe.w.up, c.expert, moe.up_bias.data() + c.expert * moe.inter, u.data(), moe.inter});
      swiglu(g.data(), u.data(), moe.inter, 7.f, 1.702f, a.data());
      linear_reference({a.data(), 1, &moe.w.down, c.expert, moe.down_bias.data() + c.expert * moe.hidden, y.data(), moe.hidden});
      for (int64_t i = 0; i < moe.hidden; ++i) expected[static_cast<size_t>(i)] += c.weight * y[static_cast<size_t>(i)];
    }
    // The engine sums 512 and then 256 products in float32, the reference in double.
    for (int64_t i = 0; i < moe.hidden; ++i)
      EXPECT_NEAR(out[static_cast<size_t>(r * moe.hidden + i)], expected[static_cast<size_t>(i)],
                  2e-4 * (1 + std::abs(expected[static_cast<size_t>(i)])));
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, Moe, testing::Values(1, 2, 3, 4, 5, 6, 9, 400));

}  // namespace
}  // namespace gptoss
