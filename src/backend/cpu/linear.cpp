#include "backend/cpu/linear.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gptoss/error.h"


namespace gptoss {

namespace {

// Prefill blocking: weight rows dequantized together (their float32 copy stays in L2) and the
// inputs multiplied with them at a time.
constexpr int64_t kDequantizedRows = 16;
constexpr int64_t kInputBlock = 64;

void add_bias(const LinearArgs& a, int64_t r0, int64_t r1) {
  if (a.bias == nullptr) return;
  for (int64_t i = 0; i < a.n; ++i)
    for (int64_t r = r0; r < r1; ++r) a.y[i * a.y_stride + r] += a.bias[r];
}

// Prefill in bf16: x is rounded once per call (all weight blocks share it); each block of
// kBf16PackRows weight rows is dequantized to float32, then rounded and packed for the product.
void prefill_bf16(const LinearArgs& a, const MatrixSlice& w, ThreadPool& pool, const CpuKernels& kernels) {
  const int64_t rows = a.w->rows, cols = a.w->cols;
  // Rows up to a multiple of kBf16InputRows, for AMX's 16-row input tiles.
  std::vector<uint16_t> x(static_cast<size_t>((a.n + kBf16InputRows - 1) / kBf16InputRows * kBf16InputRows * cols));
  pool.parallel_for(a.n, 16, [&](int64_t i0, int64_t i1, int) {
    kernels.to_bf16(a.x + i0 * cols, (i1 - i0) * cols, x.data() + i0 * cols);
  });
  const DequantizeRowsKernel dequantize = kernels.dequantize(w);
  const int64_t blocks = (rows + kBf16PackRows - 1) / kBf16PackRows;
  pool.parallel_for(blocks, 1, [&](int64_t b0, int64_t b1, int thread) {
    std::vector<float>& rows_f32 = pool.scratch(thread);
    rows_f32.resize(static_cast<size_t>(kBf16PackRows * cols));
    std::vector<uint16_t>& packed = pool.scratch_bf16(thread);
    packed.resize(rows_f32.size());
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kBf16PackRows, r1 = std::min(rows, r0 + kBf16PackRows);
      dequantize(w, r0, r1, rows_f32.data());
      kernels.pack_bf16(rows_f32.data(), r1 - r0, cols, packed.data());
      kernels.bf16_products(x.data(), a.n, cols, packed.data(), r1 - r0, cols, a.y + r0, a.y_stride);
      add_bias(a, r0, r1);
    }
  });
}

}  // namespace

LinearPrecision resolve_precision(const std::string& name, const CpuKernels& kernels) {
  const bool has_bf16 = kernels.bf16_products != nullptr;
  if (name == "auto") return has_bf16 ? LinearPrecision::bf16 : LinearPrecision::f32;
  if (name == "f32") return LinearPrecision::f32;
  if (name != "bf16") throw Error("precision '" + name + "': expected auto, f32 or bf16");
  if (!has_bf16)
    throw Error("precision bf16: the " + std::string(kernels.name) + " kernels have no bf16 product (needs AMX or AVX512-BF16)");
  return LinearPrecision::bf16;
}

void linear(const LinearArgs& a, ThreadPool& pool, const CpuKernels& kernels, LinearPrecision precision) {
  const MatrixSlice w = slice(*a.w, a.matrix);
  const int64_t rows = a.w->rows, cols = a.w->cols;
  if (a.n <= kMaxFusedInputs) {
    // Decode: stream each weight row once, straight from its packed form.
    const FusedRowsKernel fused = kernels.fused(w);
    const int64_t grain = std::max<int64_t>(16, rows / (8 * pool.size()));
    pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
      fused(w, a.x, static_cast<int>(a.n), a.y, a.y_stride, r0, r1);
      add_bias(a, r0, r1);
    });
    return;
  }
  if (precision == LinearPrecision::bf16 && kernels.bf16_products != nullptr) return prefill_bf16(a, w, pool, kernels);
  const DequantizeRowsKernel dequantize = kernels.dequantize(w);
  const int64_t blocks = (rows + kDequantizedRows - 1) / kDequantizedRows;
  pool.parallel_for(blocks, 1, [&](int64_t b0, int64_t b1, int thread) {
    std::vector<float>& rows_f32 = pool.scratch(thread);
    rows_f32.resize(static_cast<size_t>(kDequantizedRows * cols));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kDequantizedRows, r1 = std::min(rows, r0 + kDequantizedRows);
      dequantize(w, r0, r1, rows_f32.data());
      for (int64_t i = 0; i < a.n; i += kInputBlock)
        kernels.dot_products(a.x + i * cols, std::min(kInputBlock, a.n - i), cols, rows_f32.data(), r1 - r0, cols,
                             cols, a.y + i * a.y_stride + r0, a.y_stride);
      add_bias(a, r0, r1);
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
