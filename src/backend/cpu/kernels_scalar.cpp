// The portable kernel set: rows decoded by dequantize_row, products in plain loops. It is the
// fallback on CPUs without AVX2 and the simplest statement of what the SIMD sets compute.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "backend/cpu/kernels.h"
#include "quant/float_formats.h"

namespace gptoss {

MatrixSlice slice(const Matrix& m, int64_t matrix) {
  MatrixSlice s;
  s.format = m.format;
  s.scale_type = m.scale_type;
  s.bits = m.bits;
  s.group_size = m.group_size;
  s.cols = m.cols;
  s.weight = m.weight_row(matrix, 0);
  s.weight_row_stride = m.weight_row_stride;
  s.row_bytes = packed_row_bytes(m.format, m.cols, m.bits);
  if (m.scales != nullptr) s.scales = m.scale_row(matrix, 0);
  if (m.biases != nullptr) s.biases = m.bias_row(matrix, 0);
  s.scale_row_stride = m.scale_row_stride;
  return s;
}

namespace {

// A one-matrix Matrix over a slice, for dequantize_row.
Matrix as_matrix(const MatrixSlice& s, int64_t rows) {
  Matrix m;
  m.format = s.format;
  m.scale_type = s.scale_type;
  m.bits = s.bits;
  m.group_size = s.group_size;
  m.rows = rows;
  m.cols = s.cols;
  m.weight = s.weight;
  m.weight_row_stride = s.weight_row_stride;
  m.scales = s.scales;
  m.biases = s.biases;
  m.scale_row_stride = s.scale_row_stride;
  return m;
}

void dequantize_rows(const MatrixSlice& w, int64_t r0, int64_t r1, float* out) {
  const Matrix m = as_matrix(w, r1);
  for (int64_t r = r0; r < r1; ++r) dequantize_row(m, 0, r, out + (r - r0) * w.cols);
}

inline float widen(float x) { return x; }
inline float widen(uint16_t x) { return bf16_to_f32(x); }

// T: float, or uint16_t for bf16 bits.
template <class T>
float dot(const float* a, const T* b, int64_t n) {
  float acc[8] = {};
  for (int64_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * widen(b[i + j]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <class T>
void dot_products(const float* x, int64_t n, int64_t x_stride, const T* w, int64_t m, int64_t w_stride, int64_t k,
                  float* y, int64_t y_stride) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < m; ++r) y[i * y_stride + r] = dot(x + i * x_stride, w + r * w_stride, k);
}

template <class T>
void weighted_sum(const float* p, int64_t n, int64_t p_stride, const T* v, int64_t m, int64_t v_stride, int64_t d,
                  float* out, int64_t out_stride) {
  for (int64_t h = 0; h < n; ++h)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t c = 0; c < d; ++c) out[h * out_stride + c] += p[h * p_stride + j] * widen(v[j * v_stride + c]);
}

void attention_softmax(float* s, int64_t n, int64_t s_stride, int64_t m, float scale, const float* sinks, float* z) {
  for (int64_t h = 0; h < n; ++h) {
    float* row = s + h * s_stride;
    float max = sinks[h];
    for (int64_t j = 0; j < m; ++j) max = std::max(max, row[j] *= scale);
    float sum = std::exp(sinks[h] - max);
    for (int64_t j = 0; j < m; ++j) sum += row[j] = std::exp(row[j] - max);
    z[h] = sum;
  }
}

void fused_rows(const MatrixSlice& w, const float* x, int n, float* y, int64_t y_stride, int64_t r0, int64_t r1) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = r0; r < r1; ++r) {
    dequantize_rows(w, r, r + 1, row.data());
    for (int i = 0; i < n; ++i) y[i * y_stride + r] = dot(x + i * w.cols, row.data(), w.cols);
  }
}

FusedRowsKernel pick_fused(const MatrixSlice&) { return fused_rows; }
DequantizeRowsKernel pick_dequantize(const MatrixSlice&) { return dequantize_rows; }

}  // namespace

void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit);
    const float u = std::clamp(up[i], -limit, limit);
    const float glu = g / (1.f + std::exp(-alpha * g));
    out[i] = (u + 1.f) * glu;
  }
}

const CpuKernels& scalar_kernels() {
  static const CpuKernels kernels{"scalar",
                                  pick_fused,
                                  pick_dequantize,
                                  dot_products<float>,
                                  weighted_sum<float>,
                                  dot_products<uint16_t>,
                                  weighted_sum<uint16_t>,
                                  attention_softmax,
                                  swiglu};
  return kernels;
}

}  // namespace gptoss
