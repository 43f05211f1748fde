// Random weight matrices of every format for the linear tests: dense f32/f16/bf16, MXFP4 (scales
// near 1) and MLX affine (any width, group size and scale type), owning their bytes.
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/float_formats.h"
#include "quant/matrix.h"
#include "support/test_support.h"

namespace gptoss::test {

// Move-only: `m` points into the vectors, which a move keeps and a copy would not.
struct OwnedMatrix {
  OwnedMatrix() = default;
  OwnedMatrix(const OwnedMatrix&) = delete;
  OwnedMatrix& operator=(const OwnedMatrix&) = delete;
  OwnedMatrix(OwnedMatrix&&) noexcept = default;
  OwnedMatrix& operator=(OwnedMatrix&&) noexcept = default;
  std::vector<uint8_t> weight, scales, biases;
  Matrix m;
};

inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Float values stored as `type` (f32, f16 or bf16) bytes.
inline std::vector<uint8_t> stored(const std::vector<float>& values, ScaleType type) {
  std::vector<uint8_t> out(values.size() * (type == ScaleType::f32 ? 4 : 2));
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == ScaleType::f32) {
      std::memcpy(&out[4 * i], &values[i], 4);
      continue;
    }
    const uint16_t h = type == ScaleType::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(&out[2 * i], &h, 2);
  }
  return out;
}

inline OwnedMatrix dense(WeightFormat format, int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  const ScaleType as = format == WeightFormat::f32 ? ScaleType::f32 : format == WeightFormat::f16 ? ScaleType::f16 : ScaleType::bf16;
  OwnedMatrix o;
  o.weight = stored(test::random_floats(static_cast<size_t>(count * rows * cols), seed, 0.5f), as);
  o.m = Matrix{.format = format, .count = count, .rows = rows, .cols = cols};
  o.m.weight = o.weight.data();
  o.m.weight_row_stride = cols * static_cast<int64_t>(as == ScaleType::f32 ? 4 : 2);
  o.m.weight_matrix_stride = rows * o.m.weight_row_stride;
  return o;
}

inline OwnedMatrix mxfp4(int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  OwnedMatrix o;
  o.weight = random_bytes(static_cast<size_t>(count * rows * cols / 2), seed);
  o.scales = random_bytes(static_cast<size_t>(count * rows * cols / 32), seed + 1);
  for (auto& s : o.scales) s = static_cast<uint8_t>(120 + s % 10);
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

inline OwnedMatrix affine(int bits, int group, ScaleType type, int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  OwnedMatrix o;
  const int64_t groups = count * rows * cols / group;
  o.weight = random_bytes(static_cast<size_t>(count * rows * cols * bits / 8), seed);
  o.scales = stored(test::random_floats(static_cast<size_t>(groups), seed + 1, 0.01f), type);
  o.biases = stored(test::random_floats(static_cast<size_t>(groups), seed + 2, 0.1f), type);
  o.m = Matrix{.format = WeightFormat::affine, .count = count, .rows = rows, .cols = cols, .bits = bits,
               .group_size = group, .scale_type = type};
  const int64_t scale_size = type == ScaleType::f32 ? 4 : 2;
  o.m.weight = o.weight.data();
  o.m.weight_row_stride = cols * bits / 8;
  o.m.weight_matrix_stride = rows * o.m.weight_row_stride;
  o.m.scales = o.scales.data();
  o.m.biases = o.biases.data();
  o.m.scale_row_stride = cols / group * scale_size;
  o.m.scale_matrix_stride = rows * o.m.scale_row_stride;
  return o;
}

}  // namespace gptoss::test
