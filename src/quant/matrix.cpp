#include "quant/matrix.h"

#include <stdexcept>

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
    case WeightFormat::affine:
      break;
  }
  throw std::logic_error("dequantize_row: format not supported yet");
}

}  // namespace gptoss
