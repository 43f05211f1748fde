#include "quant/matrix.h"

#include <cmath>
#include <stdexcept>

#include "quant/affine.h"
#include "quant/float_formats.h"
#include "quant/mxfp4.h"

namespace gptoss {

const char* format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::f32: return "f32";
    case WeightFormat::f16: return "f16";
    case WeightFormat::bf16: return "bf16";
    case WeightFormat::mxfp4: return "mxfp4";
    case WeightFormat::affine: return "affine";
  }
  return "?";
}

Matrix Matrix::strided_rows(int64_t first_row, int64_t step) const {
  Matrix m = *this;
  m.rows = (rows - first_row + step - 1) / step;
  m.weight = weight + first_row * weight_row_stride;
  m.weight_row_stride = weight_row_stride * step;
  if (scales != nullptr) m.scales = scales + first_row * scale_row_stride;
  if (biases != nullptr) m.biases = biases + first_row * scale_row_stride;
  m.scale_row_stride = scale_row_stride * step;
  return m;
}

int64_t scale_row_bytes(const Matrix& m) {
  const int64_t groups = m.group_size > 0 ? m.cols / m.group_size : 0;
  switch (m.scale_type) {
    case ScaleType::none: return 0;
    case ScaleType::e8m0: return groups;
    case ScaleType::f16:
    case ScaleType::bf16: return groups * 2;
    case ScaleType::f32: return groups * 4;
  }
  return 0;
}

int64_t matrix_bytes(const Matrix& m) {
  const int64_t per_row = scale_row_bytes(m) * (m.biases != nullptr ? 2 : 1);
  return m.rows * (packed_row_bytes(m.format, m.cols, m.bits) + per_row);
}

float load_scale(ScaleType type, const uint8_t* base, int64_t index) {
  switch (type) {
    case ScaleType::f32: return load_le<float>(base + 4 * index);
    case ScaleType::f16: return f16_to_f32(load_le<uint16_t>(base + 2 * index));
    case ScaleType::bf16: return bf16_to_f32(load_le<uint16_t>(base + 2 * index));
    case ScaleType::e8m0: return e8m0_to_f32(base[index]);
    case ScaleType::none: break;
  }
  throw std::logic_error("load_scale: matrix has no scales");
}

int64_t packed_row_bytes(WeightFormat format, int64_t cols, int bits) {
  switch (format) {
    case WeightFormat::f32: return cols * 4;
    case WeightFormat::f16:
    case WeightFormat::bf16: return cols * 2;
    case WeightFormat::mxfp4: return cols / 2;
    case WeightFormat::affine: return cols * bits / 8;
  }
  return 0;
}

void dequantize_row(const Matrix& m, int64_t matrix, int64_t row, float* out) {
  const uint8_t* w = m.weight_row(matrix, row);
  switch (m.format) {
    case WeightFormat::f32:
      for (int64_t k = 0; k < m.cols; ++k) out[k] = load_le<float>(w + 4 * k);
      return;
    case WeightFormat::f16:
      for (int64_t k = 0; k < m.cols; ++k) out[k] = f16_to_f32(load_le<uint16_t>(w + 2 * k));
      return;
    case WeightFormat::bf16:
      for (int64_t k = 0; k < m.cols; ++k) out[k] = bf16_to_f32(load_le<uint16_t>(w + 2 * k));
      return;
    case WeightFormat::mxfp4:
      mxfp4_dequantize_row(w, m.scale_row(matrix, row), m.cols, out);
      return;
    case WeightFormat::affine: {
      const uint8_t* scales = m.scale_row(matrix, row);
      const uint8_t* biases = m.bias_row(matrix, row);
      for (int64_t g = 0; g < m.cols / m.group_size; ++g) {
        const float scale = load_scale(m.scale_type, scales, g), bias = load_scale(m.scale_type, biases, g);
        for (int64_t k = g * m.group_size; k < (g + 1) * m.group_size; ++k)
          out[k] = std::fma(scale, static_cast<float>(affine_code(w, k, m.bits)), bias);
      }
      return;
    }
  }
}

}  // namespace gptoss
