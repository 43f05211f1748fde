#include "backend/cpu/linear.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/vector_math.h"

namespace gptoss {

namespace {
constexpr int64_t kRowBlock = 8;  // weight rows decoded together, reused across the inputs
}

void linear(const LinearArgs& a, ThreadPool& pool) {
  const Matrix& w = *a.w;
  const int64_t k = w.cols;
  const int64_t blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  pool.parallel_for(blocks, 1, [&](int64_t begin, int64_t end, int thread) {
    std::vector<float>& decoded = pool.scratch(thread);
    decoded.resize(static_cast<size_t>(kRowBlock * k));
    for (int64_t b = begin; b < end; ++b) {
      const int64_t r0 = b * kRowBlock, r1 = std::min(w.rows, r0 + kRowBlock);
      for (int64_t r = r0; r < r1; ++r) dequantize_row(w, a.matrix, r, decoded.data() + (r - r0) * k);
      for (int64_t i = 0; i < a.n; ++i) {
        const float* xi = a.x + i * k;
        float* yi = a.y + i * a.y_stride;
        for (int64_t r = r0; r < r1; ++r)
          yi[r] = dot(xi, decoded.data() + (r - r0) * k, k) + (a.bias ? a.bias[r] : 0.f);
      }
    }
  });
}

void linear_reference(const LinearArgs& a) {
  const Matrix& w = *a.w;
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w, a.matrix, r, row.data());
    for (int64_t i = 0; i < a.n; ++i) {
      double acc = a.bias ? a.bias[r] : 0.0;
      for (int64_t c = 0; c < w.cols; ++c) acc += static_cast<double>(a.x[i * w.cols + c]) * row[static_cast<size_t>(c)];
      a.y[i * a.y_stride + r] = static_cast<float>(acc);
    }
  }
}

}  // namespace gptoss
