// The CPU linear kernel against the double-precision reference, for every dense format and
// MXFP4 (including the strided gate/up views), on random data.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/cpu/linear.h"
#include "quant/float_formats.h"
#include "quant/mxfp4.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

struct OwnedMatrix {
  std::vector<uint8_t> weight, scales;
  Matrix m;
};

OwnedMatrix dense(WeightFormat format, int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  OwnedMatrix o;
  const size_t item = format == WeightFormat::f32 ? 4 : 2;
  const auto values = test::random_floats(static_cast<size_t>(count * rows * cols), seed, 0.5f);
  o.weight.resize(values.size() * item);
  for (size_t i = 0; i < values.size(); ++i) {
    if (format == WeightFormat::f32) std::memcpy(&o.weight[4 * i], &values[i], 4);
    else {
      const uint16_t h = format == WeightFormat::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      std::memcpy(&o.weight[2 * i], &h, 2);
    }
  }
  o.m = Matrix{.format = format, .count = count, .rows = rows, .cols = cols};
  o.m.weight = o.weight.data();
  o.m.weight_row_stride = cols * static_cast<int64_t>(item);
  o.m.weight_matrix_stride = rows * o.m.weight_row_stride;
  return o;
}

OwnedMatrix mxfp4(int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  OwnedMatrix o;
  std::mt19937 rng(seed);
  o.weight.resize(static_cast<size_t>(count * rows * cols / 2));
  o.scales.resize(static_cast<size_t>(count * rows * cols / 32));
  for (auto& b : o.weight) b = static_cast<uint8_t>(rng());
  for (auto& s : o.scales) s = static_cast<uint8_t>(120 + rng() % 10);
  o.m = Matrix{.format = WeightFormat::mxfp4, .count = count, .rows = rows, .cols = cols, .group_size = 32,
               .scale_type = ScaleType::e8m0};
  o.m.weight = o.weight.data();
  o.m.weight_row_stride = cols / 2;
  o.m.weight_matrix_stride = rows * cols / 2;
  o.m.scales = o.scales.data();
  o.m.scale_row_stride = cols / 32;
  o.m.scale_matrix_stride = rows * cols / 32;
  return o;
}

void expect_matches_reference(const Matrix& m, int64_t n, int64_t matrix, bool with_bias) {
  const auto x = test::random_floats(static_cast<size_t>(n * m.cols), 7);
  const auto bias = test::random_floats(static_cast<size_t>(m.rows), 8);
  std::vector<float> fast(static_cast<size_t>(n * m.rows)), slow(fast.size());
  ThreadPool pool(2);
  const LinearArgs args{x.data(), n, &m, matrix, with_bias ? bias.data() : nullptr, fast.data(), m.rows};
  linear(args, pool);
  LinearArgs ref = args;
  ref.y = slow.data();
  linear_reference(ref);
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_NEAR(fast[i], slow[i], 1e-5 * (1 + std::abs(slow[i]))) << "element " << i;
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Linear, DenseFormatsMatchReference) {
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16})
    for (int64_t n : {1, 3, 17}) {
      const OwnedMatrix o = dense(f, 1, 45, 96, 1);
      expect_matches_reference(o.m, n, 0, n != 3);
    }
}

TEST(Linear, Mxfp4StackMatchesReference) {
  const OwnedMatrix o = mxfp4(3, 40, 128, 2);
  for (int64_t e : {0, 2}) expect_matches_reference(o.m, 5, e, true);
}

TEST(Linear, InterleavedRowViewsSelectEvenAndOddRows) {
  const OwnedMatrix o = mxfp4(2, 12, 64, 3);
  const Matrix even = o.m.strided_rows(0, 2), odd = o.m.strided_rows(1, 2);
  EXPECT_EQ(even.rows, 6);
  std::vector<float> a(64), b(64);
  for (int64_t r = 0; r < 6; ++r) {
    dequantize_row(even, 1, r, a.data());
    dequantize_row(o.m, 1, 2 * r, b.data());
    EXPECT_EQ(a, b);
    dequantize_row(odd, 1, r, a.data());
    dequantize_row(o.m, 1, 2 * r + 1, b.data());
    EXPECT_EQ(a, b);
  }
  expect_matches_reference(odd, 4, 1, false);
}

TEST(Mxfp4, DecodesNibblesAndScales) {
  // Byte 0x2F: low nibble 0xF = −6 (element 0), high nibble 0x2 = +1 (element 1).
  std::vector<uint8_t> codes(16, 0);
  codes[0] = 0x2F;
  codes[15] = 0x97;  // element 30 = +6, element 31 = −0.5
  const uint8_t scale = 128;  // 2^1
  std::vector<float> out(32);
  mxfp4_dequantize_row(codes.data(), &scale, 32, out.data());
  EXPECT_EQ(out[0], -12.f);
  EXPECT_EQ(out[1], 2.f);
  EXPECT_EQ(out[2], 0.f);
  EXPECT_EQ(out[30], 12.f);
  EXPECT_EQ(out[31], -1.f);
  EXPECT_TRUE(std::isnan(e8m0_to_f32(255)));
  EXPECT_EQ(e8m0_to_f32(127), 1.f);
  EXPECT_EQ(e8m0_to_f32(0), std::ldexp(1.f, -127));
}

TEST(Linear, UnalignedWeightsAreRead) {
  OwnedMatrix o = dense(WeightFormat::bf16, 1, 9, 32, 4);
  std::vector<uint8_t> shifted(o.weight.size() + 1);
  std::memcpy(shifted.data() + 1, o.weight.data(), o.weight.size());
  Matrix m = o.m;
  m.weight = shifted.data() + 1;
  expect_matches_reference(m, 2, 0, true);
}

}  // namespace
}  // namespace gptoss
