#include "quant/affine.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gptoss {

bool affine_bits_supported(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8; }
bool affine_group_size_supported(int group_size) { return group_size == 32 || group_size == 64 || group_size == 128; }

namespace {

// std::round (half away from zero) and std::rint (half to even) for |x| < 2^22, without a
// libm call so that the element loop vectorises. x − trunc(x) is exact there, and adding
// 1.5·2^23 leaves no fraction bits, so the FPU's round-to-nearest-even does the rounding.
inline float round_half_away(float x) {
  const auto t = static_cast<float>(static_cast<int32_t>(x));
  return std::abs(x - t) >= 0.5f ? t + std::copysign(1.f, x) : t;
}

inline float round_half_even(float x) {
  constexpr float kMagic = 12582912.f;  // 1.5 · 2^23
  return (x + kMagic) - kMagic;       // IEEE arithmetic (no -ffast-math) keeps both roundings
}

// Clamps first (NaN goes to lo): rounding commutes with clamping to integers.
inline float clamp_any(float x, float lo, float hi) {
  x = x > lo ? x : lo;
  return x < hi ? x : hi;
}

}  // namespace

void affine_quantize(const float* w, int64_t n, int bits, int group_size, AffineRounding rounding, uint8_t* codes,
                     float* scales, float* biases) {
  const auto n_bins = static_cast<float>((1 << bits) - 1);
  constexpr float kEps = 1e-7f;
  for (int64_t g = 0; g < n / group_size; ++g) {
    const float* v = w + g * group_size;
    float w_min = std::numeric_limits<float>::max();
    float w_max = rounding == AffineRounding::gpu ? 0.f : -std::numeric_limits<float>::infinity();
    for (int i = 0; i < group_size; ++i) {
      w_min = std::min(w_min, v[i]);
      w_max = std::max(w_max, v[i]);
    }
    float scale = std::max((w_max - w_min) / n_bins, kEps);
    const bool min_is_edge = std::abs(w_min) > std::abs(w_max);
    if (!min_is_edge) scale = -scale;
    const float edge = min_is_edge ? w_min : w_max;
    const float ratio = clamp_any(edge / scale, -4194304.f, 4194304.f);
    const float q0 = rounding == AffineRounding::gpu ? round_half_away(ratio) : round_half_even(ratio);
    float bias = 0.f;
    if (q0 != 0.f) {
      scale = edge / q0;
      bias = edge;
    }
    // Clamped to [0, n_bins] first, so the rounding below only sees small non-negative values.
    uint8_t* out = codes + g * group_size;
    if (rounding == AffineRounding::gpu) {
      for (int i = 0; i < group_size; ++i) {
        const float x = clamp_any((v[i] - bias) / scale, 0.f, n_bins);
        const auto t = static_cast<int32_t>(x);
        out[i] = static_cast<uint8_t>(t + (x - static_cast<float>(t) >= 0.5f));
      }
    } else {
      for (int i = 0; i < group_size; ++i)
        out[i] = static_cast<uint8_t>(round_half_even(clamp_any((v[i] - bias) / scale, 0.f, n_bins)));
    }
    scales[g] = scale;
    biases[g] = bias;
  }
}

void affine_pack(const uint8_t* codes, int64_t n, int bits, uint8_t* packed) {
  // Eight codes fill exactly `bits` bytes: build them in a 64-bit word, then store its low bytes.
  for (int64_t j = 0; j < n; j += 8) {
    const int count = static_cast<int>(std::min<int64_t>(8, n - j));
    uint64_t word = 0;
    for (int k = 0; k < count; ++k) word |= static_cast<uint64_t>(codes[j + k]) << (k * bits);
    for (int b = 0; b < (count * bits + 7) / 8; ++b) packed[j / 8 * bits + b] = static_cast<uint8_t>(word >> (8 * b));
  }
}

void affine_unpack(const uint8_t* packed, int64_t n, int bits, uint8_t* codes) {
  for (int64_t j = 0; j < n; ++j) codes[j] = static_cast<uint8_t>(affine_code(packed, j, bits));
}

void affine_dequantize(const uint8_t* packed, const float* scales, const float* biases, int64_t n, int bits,
                       int group_size, float* out) {
  for (int64_t j = 0; j < n; ++j)
    out[j] = scales[j / group_size] * static_cast<float>(affine_code(packed, j, bits)) + biases[j / group_size];
}

}  // namespace gptoss
