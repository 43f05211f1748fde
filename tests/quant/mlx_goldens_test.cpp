// MLX's own quantization outputs (tests/data/mlx-quant, made by MLX on its CPU stream): our
// quantizer with the CPU rounding rules reproduces the packed words, scales and biases bit for
// bit, for every bit width, group size and float type, and for mxfp4.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/linear.h"
#include "quant/affine.h"
#include "quant/matrix.h"
#include "quant/float_formats.h"
#include "quant/mxfp4.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using test::HostTensor;

struct Golden {
  std::string prefix;
  int bits = 0;
  int group = 0;
  bool bf16 = false;
  std::map<std::string, HostTensor> tensors;
  const HostTensor& operator[](const std::string& field) const { return tensors.at(prefix + "." + field); }
  using Rounder = float (*)(float);
  Rounder to_storage() const { return bf16 ? round_to_bf16 : round_to_f16; }
};

std::vector<Golden> load_goldens(const std::string& file) {
  const auto all = test::read_all_tensors(test::test_data_dir() / "mlx-quant" / file);
  std::vector<Golden> out;
  for (const auto& [name, tensor] : all) {
    if (name.size() < 2 || name.substr(name.size() - 2) != ".w") continue;
    Golden g;
    g.prefix = name.substr(0, name.size() - 2);
    if (g.prefix.rfind("mxfp4", 0) == 0) {
      g.bits = 4;
      g.group = 32;
    } else {
      g.bits = std::stoi(g.prefix.substr(1));
      g.group = std::stoi(g.prefix.substr(g.prefix.find("_g") + 2));
    }
    g.bf16 = g.prefix.find("_bf16") != std::string::npos;
    for (const char* field : {"w", "wq", "scales", "biases", "deq", "x", "y"}) {
      const auto it = all.find(g.prefix + "." + field);
      if (it != all.end()) g.tensors[it->first] = it->second;
    }
    out.push_back(std::move(g));
  }
  return out;
}

// The stored bytes of float values rounded to the golden's 16-bit type.
std::vector<uint8_t> as_storage_bytes(const std::vector<float>& values, bool bf16) {
  std::vector<uint8_t> out(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    out[2 * i] = static_cast<uint8_t>(h & 0xff);
    out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return out;
}

class AffineGoldens : public ::testing::TestWithParam<int> {};

TEST_P(AffineGoldens, QuantizePackAndDequantizeMatchMlxBitForBit) {
  const auto goldens = load_goldens("affine_b" + std::to_string(GetParam()) + ".safetensors");
  ASSERT_EQ(goldens.size(), 10u);
  for (const Golden& g : goldens) {
    SCOPED_TRACE(g.prefix);
    const HostTensor& w = g["w"];
    const int64_t rows = w.shape[0], k = w.shape[1], groups = k / g.group;
    std::vector<uint8_t> codes(static_cast<size_t>(k)), packed(static_cast<size_t>(k * g.bits / 8));
    std::vector<float> scales(static_cast<size_t>(groups)), biases(scales.size());
    std::vector<uint8_t> all_packed, all_scales, all_biases, all_deq;
    for (int64_t r = 0; r < rows; ++r) {
      affine_quantize(w.f32.data() + r * k, k, g.bits, g.group, AffineRounding::cpu, codes.data(), scales.data(),
                      biases.data());
      affine_pack(codes.data(), k, g.bits, packed.data());
      all_packed.insert(all_packed.end(), packed.begin(), packed.end());
      const auto s = as_storage_bytes(scales, g.bf16), b = as_storage_bytes(biases, g.bf16);
      all_scales.insert(all_scales.end(), s.begin(), s.end());
      all_biases.insert(all_biases.end(), b.begin(), b.end());

      // Dequantize from the stored scale/bias as MLX rounds it: T(T(q·scale) + bias).
      std::vector<uint8_t> unpacked(static_cast<size_t>(k));
      affine_unpack(packed.data(), k, g.bits, unpacked.data());
      EXPECT_EQ(unpacked, codes);
      std::vector<float> deq(static_cast<size_t>(k));
      for (int64_t j = 0; j < k; ++j) {
        const float scale = g.to_storage()(scales[static_cast<size_t>(j / g.group)]);
        const float bias = g.to_storage()(biases[static_cast<size_t>(j / g.group)]);
        deq[static_cast<size_t>(j)] = g.to_storage()(g.to_storage()(codes[static_cast<size_t>(j)] * scale) + bias);
      }
      const auto d = as_storage_bytes(deq, g.bf16);
      all_deq.insert(all_deq.end(), d.begin(), d.end());
    }
    EXPECT_EQ(all_packed, g["wq"].bytes);
    EXPECT_EQ(all_scales, g["scales"].bytes);
    EXPECT_EQ(all_biases, g["biases"].bytes);
    EXPECT_EQ(all_deq, g["deq"].bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, AffineGoldens, ::testing::Values(2, 3, 4, 5, 6, 8));

TEST(Mxfp4Goldens, QuantizeAndDequantizeMatchMlxBitForBit) {
  const auto goldens = load_goldens("mxfp4_g32.safetensors");
  ASSERT_EQ(goldens.size(), 4u);
  for (const Golden& g : goldens) {
    SCOPED_TRACE(g.prefix);
    const HostTensor& w = g["w"];
    const int64_t rows = w.shape[0], k = w.shape[1];
    std::vector<uint8_t> packed(static_cast<size_t>(rows * k / 2)), scales(static_cast<size_t>(rows * k / 32));
    mxfp4_quantize_mlx(w.f32.data(), rows * k, g.to_storage(), packed.data(), scales.data());
    EXPECT_EQ(packed, g["wq"].bytes);
    EXPECT_EQ(scales, g["scales"].bytes);
    std::vector<float> deq(static_cast<size_t>(rows * k));
    for (int64_t r = 0; r < rows; ++r)
      mxfp4_dequantize_row(packed.data() + r * k / 2, scales.data() + r * k / 32, k, deq.data() + r * k);
    for (float& v : deq) v = g.to_storage()(v);
    EXPECT_EQ(as_storage_bytes(deq, g.bf16), g["deq"].bytes);

    // MXFP4 dequantization is exact, so here the product with `.deq` itself is the reference.
    Matrix m{.format = WeightFormat::mxfp4, .rows = rows, .cols = k, .group_size = 32, .scale_type = ScaleType::e8m0};
    m.weight = g["wq"].bytes.data();
    m.weight_row_stride = k / 2;
    m.scales = g["scales"].bytes.data();
    m.scale_row_stride = k / 32;
    const auto& x = g["x"].f32;
    const int64_t n = g["x"].shape[0];
    ThreadPool pool(2);
    std::vector<const CpuKernels*> sets = {&scalar_kernels()};
    if (avx2_kernels()) sets.push_back(avx2_kernels());
    if (avx512_kernels()) sets.push_back(avx512_kernels());
    for (const CpuKernels* kernels : sets) {
      std::vector<float> y(static_cast<size_t>(n * rows));
      linear({x.data(), n, &m, 0, nullptr, y.data(), rows}, pool, *kernels, LinearPrecision::f32);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < rows; ++r) {
          double expected = 0, norm = 0;
          for (int64_t c = 0; c < k; ++c) {
            expected += double(x[static_cast<size_t>(i * k + c)]) * g["deq"].f32[static_cast<size_t>(r * k + c)];
            norm += std::abs(double(x[static_cast<size_t>(i * k + c)]) * g["deq"].f32[static_cast<size_t>(r * k + c)]);
          }
          EXPECT_NEAR(y[static_cast<size_t>(i * rows + r)], expected, 1e-5 * norm) << kernels->name;
        }
    }
  }
}

// Our fused kernels read MLX's packed words, scales and biases directly. Against a float64
// dot product of x with the exact dequantization (scale·q + bias in real arithmetic) they agree
// to 1e-5 relative (of max |y|). MLX's `.deq` is that value rounded to bf16/f16 twice (the
// test above proves our dequantization rounds to exactly `.deq`); a product with `.deq`
// therefore differs by that rounding, up to a few percent of max |y| where terms cancel, and is
// printed, not asserted. MLX's `.y` accumulates in 16 bits as well and is a loose check.
TEST(AffineGoldens, FusedKernelsMatchFloat64ProductsOfTheGoldens) {
  ThreadPool pool(2);
  std::vector<const CpuKernels*> sets = {&scalar_kernels()};
  if (avx2_kernels()) sets.push_back(avx2_kernels());
  if (avx512_kernels()) sets.push_back(avx512_kernels());
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (const Golden& g : load_goldens("affine_b" + std::to_string(bits) + ".safetensors")) {
      SCOPED_TRACE(g.prefix);
      const int64_t rows = g["w"].shape[0], k = g["w"].shape[1], n = g["x"].shape[0];
      Matrix m{.format = WeightFormat::affine, .rows = rows, .cols = k, .bits = g.bits, .group_size = g.group,
               .scale_type = g.bf16 ? ScaleType::bf16 : ScaleType::f16};
      m.weight = g["wq"].bytes.data();
      m.weight_row_stride = k * g.bits / 8;
      m.scales = g["scales"].bytes.data();
      m.biases = g["biases"].bytes.data();
      m.scale_row_stride = k / g.group * 2;
      const auto& x = g["x"].f32;
      const auto& deq = g["deq"].f32;
      std::vector<double> exact(static_cast<size_t>(n * rows)), with_deq(exact.size());
      double norm = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < rows; ++r) {
          double e = 0, d = 0;
          for (int64_t c = 0; c < k; ++c) {
            const double scale = load_scale(m.scale_type, m.scales + r * m.scale_row_stride, c / g.group);
            const double bias = load_scale(m.scale_type, m.biases + r * m.scale_row_stride, c / g.group);
            const double q = affine_code(m.weight + r * m.weight_row_stride, c, g.bits);
            e += x[static_cast<size_t>(i * k + c)] * (scale * q + bias);
            d += x[static_cast<size_t>(i * k + c)] * double(deq[static_cast<size_t>(r * k + c)]);
          }
          exact[static_cast<size_t>(i * rows + r)] = e;
          with_deq[static_cast<size_t>(i * rows + r)] = d;
          norm = std::max(norm, std::abs(e));
        }
      for (const CpuKernels* kernels : sets) {
        std::vector<float> y(exact.size());
        linear({x.data(), n, &m, 0, nullptr, y.data(), rows}, pool, *kernels, LinearPrecision::f32);
        double worst_exact = 0, worst_deq = 0, worst_mlx = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          worst_exact = std::max(worst_exact, std::abs(y[i] - exact[i]) / norm);
          worst_deq = std::max(worst_deq, std::abs(y[i] - with_deq[i]) / norm);
          worst_mlx = std::max(worst_mlx, std::abs(double(y[i]) - g["y"].f32[i]) / norm);
        }
        EXPECT_LE(worst_exact, 1e-5) << kernels->name;
        EXPECT_LE(worst_mlx, 0.1) << kernels->name;
        if (kernels == sets.back() && g.prefix.find("k2880") != std::string::npos)
          std::printf("%-22s %-6s vs exact %.1e  vs .deq %.1e  vs MLX .y %.1e (relative to max |y|)\n",
                      g.prefix.c_str(), kernels->name, worst_exact, worst_deq, worst_mlx);
      }
    }
}

TEST(AffinePacking, WorkedExamplesOfTheFormatDocument) {
  const auto pack = [](std::vector<uint8_t> codes, int bits) {
    std::vector<uint8_t> out(codes.size() * static_cast<size_t>(bits) / 8);
    affine_pack(codes.data(), static_cast<int64_t>(codes.size()), bits, out.data());
    return out;
  };
  EXPECT_EQ(pack({0, 1, 2, 3, 4, 5, 6, 7}, 5), (std::vector<uint8_t>{0x20, 0x88, 0x41, 0x8a, 0x39}));
  EXPECT_EQ(pack({31, 1, 0, 0, 0, 0, 0, 0}, 5), (std::vector<uint8_t>{0x3f, 0, 0, 0, 0}));
  EXPECT_EQ(pack({31, 0, 31, 0, 31, 0, 31, 0}, 5), (std::vector<uint8_t>{0x1f, 0x7c, 0xf0, 0xc1, 0x07}));
  EXPECT_EQ(pack({0, 1, 2, 3, 4, 5, 6, 7}, 4), (std::vector<uint8_t>{0x10, 0x32, 0x54, 0x76}));
  EXPECT_EQ(pack({0, 1, 2, 3, 4, 5, 6, 7}, 3), (std::vector<uint8_t>{0x88, 0xc6, 0xfa}));
  EXPECT_EQ(pack({0, 1, 2, 3}, 6), (std::vector<uint8_t>{0x40, 0x20, 0x0c}));
  EXPECT_EQ(pack({0, 1, 2, 3}, 2), (std::vector<uint8_t>{0xe4}));
  EXPECT_EQ(pack({0, 1, 2, 3}, 8), (std::vector<uint8_t>{0, 1, 2, 3}));
}

TEST(AffineQuantize, GpuRulesSeedTheMaximumAtZeroAndRoundHalfAwayFromZero) {
  // The document's worked example: w_j = bf16((j − 10)·0.01): both rule sets agree.
  std::vector<float> w(32), all_negative(32);
  for (int j = 0; j < 32; ++j) {
    w[static_cast<size_t>(j)] = round_to_bf16((j - 10) * 0.01f);
    all_negative[static_cast<size_t>(j)] = round_to_bf16(-0.5f - 0.01f * j);
  }
  std::vector<uint8_t> codes(32);
  float scale = 0, bias = 0;
  for (auto rounding : {AffineRounding::gpu, AffineRounding::cpu}) {
    affine_quantize(w.data(), 32, 5, 32, rounding, codes.data(), &scale, &bias);
    EXPECT_EQ(f32_to_bf16(scale), 0xBC24);
    EXPECT_EQ(f32_to_bf16(bias), 0x3E57);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(codes[static_cast<size_t>(j)], 31 - j);
  }
  // An all-negative group: the GPU sees w_max = 0, the CPU the true maximum.
  affine_quantize(all_negative.data(), 32, 5, 32, AffineRounding::gpu, codes.data(), &scale, &bias);
  EXPECT_NEAR(round_to_bf16(scale), 0.026123f, 1e-5);
  EXPECT_LE(*std::max_element(codes.begin(), codes.end()), 12);
  affine_quantize(all_negative.data(), 32, 5, 32, AffineRounding::cpu, codes.data(), &scale, &bias);
  EXPECT_NEAR(round_to_bf16(scale), 0.010010f, 1e-5);
  EXPECT_EQ(*std::max_element(codes.begin(), codes.end()), 31);
}

}  // namespace
}  // namespace gptoss
