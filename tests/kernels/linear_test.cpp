// Every CPU kernel set this machine supports (scalar, AVX2, AVX-512), for every weight format
// — dense f32/f16/bf16, MXFP4, MLX affine of every width, group size and scale type — against
// the double-precision reference, on random data, for decode (fused) and prefill (blocked)
// input counts.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/cpu/linear.h"
#include "kernels/weight_fixtures.h"
#include "quant/float_formats.h"
#include "quant/mxfp4.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using test::affine;
using test::dense;
using test::mxfp4;
using test::OwnedMatrix;

std::vector<const CpuKernels*> kernel_sets() {
  std::vector<const CpuKernels*> sets = {&scalar_kernels()};
  if (avx2_kernels() != nullptr) sets.push_back(avx2_kernels());
  if (avx512_kernels() != nullptr) sets.push_back(avx512_kernels());
  if (amx_kernels() != nullptr) sets.push_back(amx_kernels());  // its float32 kernels are AVX-512's
  return sets;
}

void expect_matches_reference(const Matrix& m, int64_t matrix, const std::string& what) {
  ThreadPool pool(2);
  const auto bias = test::random_floats(static_cast<size_t>(m.rows), 8);
  for (int64_t n : {1, 2, 3, 4, 5, 9}) {
    const auto x = test::random_floats(static_cast<size_t>(n * m.cols), 7 + static_cast<uint32_t>(n));
    std::vector<float> expected(static_cast<size_t>(n * m.rows));
    linear_reference({x.data(), n, &m, matrix, bias.data(), expected.data(), m.rows});
    double scale = 0;
    for (float v : expected) scale = std::max(scale, double(std::abs(v)));
    for (const CpuKernels* k : kernel_sets()) {
      std::vector<float> y(expected.size(), NAN);
      linear({x.data(), n, &m, matrix, bias.data(), y.data(), m.rows}, pool, *k, LinearPrecision::f32);
      double worst = 0;
      for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - expected[i]));
      EXPECT_LE(worst, 1e-5 * scale) << what << ", kernels " << k->name << ", " << n << " inputs";
    }
  }
}

TEST(Linear, KernelSetsAvailable) {
  for (const CpuKernels* k : kernel_sets()) std::printf("kernel set: %s\n", k->name);
  EXPECT_STREQ(best_cpu_kernels().name, kernel_sets().back()->name);
}

TEST(Linear, DenseFormatsMatchReference) {
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16}) {
    const OwnedMatrix o = dense(f, 2, 45, 96, 1);
    expect_matches_reference(o.m, 1, format_name(f));
  }
}

TEST(Linear, Mxfp4MatchesReference) {
  const OwnedMatrix o = mxfp4(3, 40, 128, 2);
  for (int64_t e : {0, 2}) expect_matches_reference(o.m, e, "mxfp4");
}

TEST(Linear, AffineEveryWidthGroupAndScaleTypeMatchesReference) {
  uint32_t seed = 10;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int group : {32, 64, 128})
      for (ScaleType type : {ScaleType::bf16, ScaleType::f16, ScaleType::f32}) {
        const OwnedMatrix o = affine(bits, group, type, 2, 19, 256, seed++);
        expect_matches_reference(o.m, 1, "affine " + std::to_string(bits) + "-bit group " + std::to_string(group));
      }
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
  expect_matches_reference(odd, 1, "odd rows");
}

TEST(Linear, UnalignedWeightsAreRead) {
  OwnedMatrix o = affine(5, 32, ScaleType::bf16, 1, 9, 64, 4);
  std::vector<uint8_t> shifted(o.weight.size() + 1), shifted_scales(o.scales.size() + 1);
  std::memcpy(shifted.data() + 1, o.weight.data(), o.weight.size());
  std::memcpy(shifted_scales.data() + 1, o.scales.data(), o.scales.size());
  Matrix m = o.m;
  m.weight = shifted.data() + 1;
  m.scales = shifted_scales.data() + 1;
  expect_matches_reference(m, 0, "unaligned affine");
  OwnedMatrix d = dense(WeightFormat::bf16, 1, 9, 32, 5);
  std::vector<uint8_t> shifted_dense(d.weight.size() + 1);
  std::memcpy(shifted_dense.data() + 1, d.weight.data(), d.weight.size());
  d.m.weight = shifted_dense.data() + 1;
  expect_matches_reference(d.m, 0, "unaligned bf16");
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

}  // namespace
}  // namespace gptoss
