// The bf16 product of long inputs, on each implementation this CPU has (AVX512-BF16's
// vdpbf16ps, AMX tiles), at gpt-oss-20b shapes on random data: against a double reference on
// the same bf16-rounded inputs and weights (only float32 summation differs), and against the
// exact float32 reference (the cost of rounding to bf16). An implementation this CPU lacks is
// skipped with a message saying it is NOT tested.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/linear.h"
#include "kernels/weight_fixtures.h"
#include "quant/float_formats.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

// The kernel set named by the test's parameter, or null where this CPU lacks it.
const CpuKernels* bf16_set(const std::string& name) {
  const CpuKernels* k = name == "amx" ? amx_kernels() : avx512_kernels();
  return k != nullptr && k->bf16_products != nullptr ? k : nullptr;
}

class LinearBf16 : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (kernels() == nullptr)
      GTEST_SKIP() << "this CPU has no " << (GetParam() == "amx" ? "AMX-BF16" : "AVX512-BF16") << ": the " << GetParam()
                   << " bf16 product is NOT tested";
  }
  const CpuKernels* kernels() const { return bf16_set(GetParam()); }
};

TEST_P(LinearBf16, ToBf16RoundsToNearestEvenAtEveryLength) {
  const auto x = test::random_floats(100, 3);
  for (int64_t count : {1, 15, 16, 17, 31, 32, 33, 63, 64, 100}) {
    std::vector<uint16_t> out(101, 0xabcd);
    kernels()->to_bf16(x.data(), count, out.data());
    for (int64_t i = 0; i < count; ++i) ASSERT_EQ(out[size_t(i)], f32_to_bf16(x[size_t(i)])) << count << " values, " << i;
    EXPECT_EQ(out[size_t(count)], 0xabcd) << "wrote past " << count << " values";
  }
}

// The two bounds every bf16 path is held to, relative to max |y| (`scale`): 1e-5 against a
// double product of the same rounded values (only float32 summation differs), 1e-2 against the
// exact one (the cost of the rounding).
void expect_within_bounds(const std::string& what, int64_t n, double scale, double to_rounded, double to_exact,
                          const char* reference, bool report) {
  if (report)
    std::printf("%s, %lld inputs: max |y| %.3g, error vs %s reference %.2e, vs exact %.2e (relative)\n", what.c_str(),
                static_cast<long long>(n), scale, reference, to_rounded / scale, to_exact / scale);
  EXPECT_LE(to_rounded, 1e-5 * scale) << what << ", " << n << " inputs, vs the " << reference << " reference";
  EXPECT_LE(to_exact, 1e-2 * scale) << what << ", " << n << " inputs, vs the exact reference";
}

// y from the bf16 path, for n inputs through matrix 0 of m with a bias, checked on every
// fifth row (all positions within the 4-row and 16-row blocks) and the last row.
void expect_bf16_close(const CpuKernels& kernels, const Matrix& m, const std::string& what,
                       std::initializer_list<int64_t> input_counts = {5, 17, 64, 200}, bool report = true) {
  ThreadPool pool(2);
  const auto bias = test::random_floats(static_cast<size_t>(m.rows), 8);
  for (int64_t n : input_counts) {
    const auto x = test::random_floats(static_cast<size_t>(n * m.cols), 7 + static_cast<uint32_t>(n));
    std::vector<float> y(static_cast<size_t>(n * m.rows), NAN);
    linear({x.data(), n, &m, 0, bias.data(), y.data(), m.rows}, pool, kernels, LinearPrecision::bf16);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << what << ": an output was not written";
    std::vector<double> exact, rounded;  // the two references at the checked rows
    std::vector<float> got;
    std::vector<float> row(static_cast<size_t>(m.cols));
    std::vector<int64_t> checked;
    for (int64_t r = 0; r < m.rows; r += 5) checked.push_back(r);
    if (checked.back() != m.rows - 1) checked.push_back(m.rows - 1);
    for (int64_t r : checked) {
      dequantize_row(m, 0, r, row.data());
      for (int64_t i = 0; i < n; ++i) {
        double e = bias[size_t(r)], b = bias[size_t(r)];
        for (int64_t c = 0; c < m.cols; ++c) {
          const float xc = x[size_t(i * m.cols + c)], wc = row[size_t(c)];
          e += double(xc) * wc;
          b += double(round_to_bf16(xc)) * round_to_bf16(wc);
        }
        exact.push_back(e);
        rounded.push_back(b);
        got.push_back(y[size_t(i * m.rows + r)]);
      }
    }
    double scale = 0, to_rounded = 0, to_exact = 0;
    for (size_t j = 0; j < got.size(); ++j) {
      scale = std::max(scale, std::abs(exact[j]));
      to_rounded = std::max(to_rounded, std::abs(got[j] - rounded[j]));
      to_exact = std::max(to_exact, std::abs(got[j] - exact[j]));
    }
    expect_within_bounds(what, n, scale, to_rounded, to_exact, "bf16-rounded", report);
  }
}

TEST_P(LinearBf16, QProjBf16MatchesReferences) {
  expect_bf16_close(*kernels(), test::dense(WeightFormat::bf16, 1, 4096, 2880, 21).m, "bf16 q_proj [2880 -> 4096]");
}

TEST_P(LinearBf16, Affine5BitExpertMatchesReferences) {
  expect_bf16_close(*kernels(), test::affine(5, 32, ScaleType::bf16, 1, 2880, 2880, 22).m, "affine 5-bit gs32 [2880 -> 2880]");
}

TEST_P(LinearBf16, Mxfp4ExpertMatchesReferences) {
  expect_bf16_close(*kernels(), test::mxfp4(1, 2880, 2880, 23).m, "mxfp4 [2880 -> 2880]");
}

// dequantize_bf16 in both layouts (row-major, and the 32-column tiles AMX reads) against
// dequantize_row rounded to bf16: equal, or one bf16 step apart where the kernel's fused
// multiply-add rounds s·q + b once and the reference twice.
TEST_P(LinearBf16, DequantizeBf16WritesRowsAndTiles) {
  for (const test::OwnedMatrix& o : {test::affine(5, 32, ScaleType::bf16, 1, 32, 640, 60), test::affine(3, 128, ScaleType::f16, 1, 32, 640, 61),
                                     test::mxfp4(1, 32, 640, 62), test::dense(WeightFormat::bf16, 1, 32, 640, 63)}) {
    const MatrixSlice w = slice(o.m, 0);
    const DequantizeBf16RowsKernel dequantize = kernels()->dequantize_bf16(w);
    ASSERT_NE(dequantize, nullptr);
    std::vector<float> row(640);
    for (const auto& [row_stride, tile_stride] : {std::pair<int64_t, int64_t>{640, 32}, {32, 32 * kBf16WeightRows}}) {
      std::vector<uint16_t> out(32 * 640, 0xffff);
      dequantize(w, 3, 32, row_stride, tile_stride, out.data());  // rows 3 … 31
      int64_t off_by_one = 0;
      for (int64_t r = 3; r < 32; ++r) {
        dequantize_row(o.m, 0, r, row.data());
        for (int64_t c = 0; c < 640; ++c) {
          const int got = out[size_t((r - 3) * row_stride + c / 32 * tile_stride + c % 32)], want = f32_to_bf16(row[size_t(c)]);
          ASSERT_LE(std::abs(got - want), 1) << "row " << r << ", column " << c << ", row stride " << row_stride;
          off_by_one += got != want;
        }
      }
      EXPECT_LE(off_by_one, 29 * 640 / 1000) << "more than 0.1 % of the weights one bf16 step off";
    }
  }
}

// Every affine width (8 bits dequantizes through float32), group size and scale type.
TEST_P(LinearBf16, PrefillEveryAffineWidthGroupAndScaleType) {
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int group : {32, 64, 128})
      for (ScaleType type : {ScaleType::bf16, ScaleType::f16, ScaleType::f32})
        expect_bf16_close(*kernels(), test::affine(bits, group, type, 1, 45, 640, 50 + static_cast<uint32_t>(bits)).m,
                          "affine " + std::to_string(bits) + "-bit gs" + std::to_string(group), {20, 33}, false);
}

// Odd row counts (a partial 32-row block, partial 8-input blocks), a stack's second matrix and
// an output row stride wider than the matrix (the padding must stay untouched).
TEST_P(LinearBf16, PartialBlocksAndStackedMatrices) {
  const test::OwnedMatrix o = test::affine(4, 64, ScaleType::f16, 2, 37, 256, 24);
  constexpr int64_t kStride = 40;
  ThreadPool pool(2);
  for (int64_t n : {5, 9, 17, 33}) {
    const auto x = test::random_floats(static_cast<size_t>(n * 256), 25);
    std::vector<float> expected(static_cast<size_t>(n * kStride)), y(expected.size(), NAN);
    linear_reference({x.data(), n, &o.m, 1, nullptr, expected.data(), kStride});
    linear({x.data(), n, &o.m, 1, nullptr, y.data(), kStride}, pool, *kernels(), LinearPrecision::bf16);
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t r = 0; r < 37; ++r) {
        const auto at = static_cast<size_t>(i * kStride + r);
        ASSERT_TRUE(std::isfinite(y[at])) << "output " << i << ", " << r << " was not written";
        scale = std::max(scale, std::abs(double(expected[at])));
        worst = std::max(worst, std::abs(double(y[at]) - expected[at]));
      }
      for (int64_t r = 37; r < kStride; ++r) ASSERT_TRUE(std::isnan(y[static_cast<size_t>(i * kStride + r)])) << "padding written";
    }
    EXPECT_LE(worst, 1e-2 * scale) << n << " inputs";
  }
}

// Decode (1 … kMaxFusedInputs inputs) in bf16: the inputs are rounded to bf16, the weights are
// not (their codes are exact in bf16 and the scales apply in float32), so the reference is the
// exact dequantized weights times the rounded inputs, in double. Every row is checked, the
// output's padding columns must stay untouched, and matrix 1 of a stack of 2 is used.
void expect_bf16_decode_close(const CpuKernels& kernels, const Matrix& m, const std::string& what, bool report = true) {
  ASSERT_NE(kernels.fused_bf16(slice(m, 1)), nullptr) << what << " has no bf16 decode kernel";
  ThreadPool pool(2);
  const int64_t stride = m.rows + 3;
  std::vector<float> row(static_cast<size_t>(m.cols));
  for (int64_t n = 1; n <= kMaxFusedInputs; ++n) {
    const auto x = test::random_floats(static_cast<size_t>(n * m.cols), 30 + static_cast<uint32_t>(n));
    std::vector<float> y(static_cast<size_t>(n * stride), NAN);
    linear({x.data(), n, &m, 1, nullptr, y.data(), stride}, pool, kernels, LinearPrecision::bf16);
    double scale = 0, to_rounded = 0, to_exact = 0;
    for (int64_t r = 0; r < m.rows; ++r) {
      dequantize_row(m, 1, r, row.data());
      for (int64_t i = 0; i < n; ++i) {
        double exact = 0, rounded = 0;
        for (int64_t c = 0; c < m.cols; ++c) {
          const float xc = x[size_t(i * m.cols + c)];
          exact += double(xc) * row[size_t(c)];
          rounded += double(round_to_bf16(xc)) * row[size_t(c)];
        }
        const double got = y[size_t(i * stride + r)];
        ASSERT_TRUE(std::isfinite(got)) << what << ": output " << i << ", " << r << " was not written";
        scale = std::max(scale, std::abs(exact));
        to_rounded = std::max(to_rounded, std::abs(got - rounded));
        to_exact = std::max(to_exact, std::abs(got - exact));
      }
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = m.rows; r < stride; ++r) ASSERT_TRUE(std::isnan(y[size_t(i * stride + r)])) << what << ": padding written";
    expect_within_bounds(what, n, scale, to_rounded, to_exact, "bf16-input", report);
  }
}

TEST_P(LinearBf16, DecodeAt20bShapesMatchesReferences) {
  expect_bf16_decode_close(*kernels(), test::affine(5, 32, ScaleType::bf16, 2, 2880, 2880, 31).m, "affine 5-bit gs32 [2880 -> 2880]");
  expect_bf16_decode_close(*kernels(), test::mxfp4(2, 2880, 2880, 32).m, "mxfp4 [2880 -> 2880]");
  expect_bf16_decode_close(*kernels(), test::affine(8, 32, ScaleType::bf16, 2, 640, 2880, 35).m, "affine 8-bit gs32 [2880 -> 640]");
  expect_bf16_decode_close(*kernels(), test::dense(WeightFormat::bf16, 2, 640, 2880, 33).m, "bf16 [2880 -> 640]");
}

TEST_P(LinearBf16, DecodeEveryAffineWidthGroupAndScaleType) {
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int group : {32, 64, 128})
      for (ScaleType type : {ScaleType::bf16, ScaleType::f16, ScaleType::f32})
        expect_bf16_decode_close(*kernels(), test::affine(bits, group, type, 2, 37, 640, 34 + static_cast<uint32_t>(bits)).m,
                                 "affine " + std::to_string(bits) + "-bit gs" + std::to_string(group) + " " +
                                     (type == ScaleType::bf16 ? "bf16" : type == ScaleType::f16 ? "f16" : "f32") + " [640 -> 37]", false);
}

// Formats without a bf16 decode kernel (f16 and f32 weights) keep the float32 kernel under
// precision bf16: exact.
TEST_P(LinearBf16, DecodeFormatsWithoutBf16KernelStayExact) {
  ThreadPool pool(2);
  for (const test::OwnedMatrix& o : {test::dense(WeightFormat::f16, 1, 40, 640, 41), test::dense(WeightFormat::f32, 1, 40, 640, 40)}) {
    EXPECT_EQ(kernels()->fused_bf16(slice(o.m, 0)), nullptr);
    const auto x = test::random_floats(2 * 640, 42);
    std::vector<float> expected(2 * 40), y(expected.size(), NAN);
    linear_reference({x.data(), 2, &o.m, 0, nullptr, expected.data(), 40});
    linear({x.data(), 2, &o.m, 0, nullptr, y.data(), 40}, pool, *kernels(), LinearPrecision::bf16);
    double scale = 0;
    for (float v : expected) scale = std::max(scale, double(std::abs(v)));
    for (size_t i = 0; i < y.size(); ++i) ASSERT_LE(std::abs(double(y[i]) - expected[i]), 1e-5 * scale);
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, LinearBf16, testing::Values("avx512bf16", "amx"),
                         [](const auto& param_info) { return param_info.param; });

// Kernel sets without a bf16 product keep float32 whatever the precision asked.
TEST(LinearBf16Fallback, SetsWithoutBf16ProductStayExact) {
  const test::OwnedMatrix o = test::affine(5, 32, ScaleType::bf16, 1, 40, 128, 26);
  ThreadPool pool(2);
  const auto x = test::random_floats(16 * 128, 27);
  std::vector<float> expected(16 * 40), y(expected.size(), NAN);
  linear_reference({x.data(), 16, &o.m, 0, nullptr, expected.data(), 40});
  linear({x.data(), 16, &o.m, 0, nullptr, y.data(), 40}, pool, scalar_kernels(), LinearPrecision::bf16);
  double scale = 0;
  for (float v : expected) scale = std::max(scale, double(std::abs(v)));
  for (size_t i = 0; i < y.size(); ++i) ASSERT_LE(std::abs(double(y[i]) - expected[i]), 1e-5 * scale);
}

}  // namespace
}  // namespace gptoss
