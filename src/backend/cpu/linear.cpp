#include "backend/cpu/linear.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gptoss/error.h"

namespace gptoss {

namespace {

// Prefill blocking in float32: weight rows dequantized together (their float32 copy stays in
// L2) and the inputs multiplied with them at a time.
constexpr int64_t kDequantizedRows = 16;
constexpr int64_t kInputBlock = 64;

// y[i, r] += bias[r] for n rows i and r in [r0, r1).
void add_bias(const LinearArgs& a, int64_t n, int64_t r0, int64_t r1) {
  if (a.bias == nullptr) return;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = r0; r < r1; ++r) a.y[i * a.y_stride + r] += a.bias[r];
}

// Rows [r0, r1) of w as bf16: row-major for pack_weights, else in 32-column tiles (see
// DequantizeBf16RowsKernel); through float32 for formats without a direct kernel.
void dequantize_block(const MatrixSlice& w, int64_t r0, int64_t r1, const CpuKernels& kernels,
                      std::vector<float>& rows_f32, uint16_t* out) {
  const bool tiles = kernels.pack_weights == nullptr;
  const int64_t row_stride = tiles ? 32 : w.cols, tile_stride = tiles ? 32 * kBf16WeightRows : 32;
  if (const DequantizeBf16RowsKernel direct = kernels.dequantize_bf16(w))
    return direct(w, r0, r1, row_stride, tile_stride, out);
  rows_f32.resize(static_cast<size_t>((r1 - r0) * w.cols));
  kernels.dequantize(w)(w, r0, r1, rows_f32.data());
  for (int64_t r = 0; r < r1 - r0; ++r)
    for (int64_t c = 0; c < w.cols; c += 32)
      kernels.to_bf16(rows_f32.data() + r * w.cols + c, 32, out + r * row_stride + c / 32 * tile_stride);
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

DecodeInputs::DecodeInputs(const float* x, int64_t n, int64_t cols, LinearPrecision precision,
                           const CpuKernels& kernels)
    : x_(x), n_(n), kernels_(kernels) {
  if (precision != LinearPrecision::bf16 || kernels.round_inputs == nullptr || cols % 32 != 0) return;
  rounded_.resize(static_cast<size_t>(n * cols));
  chunk_sums_.resize(static_cast<size_t>(n * cols / 32));
  kernels.round_inputs(x, n * cols, rounded_.data(), chunk_sums_.data());
}

void DecodeInputs::multiply(const MatrixSlice& w, float* y, int64_t y_stride, int64_t r0, int64_t r1) const {
  if (!rounded_.empty())
    if (const FusedRowsBf16Kernel bf16 = kernels_.fused_bf16(w))
      return bf16(w, rounded_.data(), chunk_sums_.data(), static_cast<int>(n_), y, y_stride, r0, r1);
  kernels_.fused(w)(w, x_, static_cast<int>(n_), y, y_stride, r0, r1);
}

PrefillInputs::PrefillInputs(const float* x, int64_t n, int64_t cols, LinearPrecision precision,
                             const CpuKernels& kernels)
    : x_(x), n_(n), cols_(cols), kernels_(kernels),
      bf16_(precision == LinearPrecision::bf16 && kernels.bf16_products != nullptr) {
  if (bf16_) prepared_.reset(new uint16_t[static_cast<size_t>(bf16_inputs_size(n, cols))]);
}

int64_t PrefillInputs::input_blocks() const { return bf16_ ? (n_ + kBf16InputRows - 1) / kBf16InputRows : 0; }

void PrefillInputs::prepare(int64_t b0, int64_t b1) {
  const int64_t i0 = b0 * kBf16InputRows, i1 = std::min(n_, b1 * kBf16InputRows);
  kernels_.prepare_inputs(x_ + i0 * cols_, i1 - i0, cols_, prepared_.get() + i0 * cols_);
}

int64_t PrefillInputs::block_rows() const { return bf16_ ? kBf16WeightRows : kDequantizedRows; }

void PrefillInputs::multiply(const LinearArgs& a, int64_t block, ThreadPool& pool, int thread) const {
  const MatrixSlice w = slice(*a.w, a.matrix);
  const int64_t r0 = block * block_rows(), r1 = std::min(a.w->rows, r0 + block_rows());
  std::vector<float>& rows_f32 = pool.scratch(thread);
  if (bf16_) {
    // Dequantized to bf16 in the layout the kernel set's product reads (packed after, or tiles).
    const auto block_size = static_cast<size_t>(kBf16WeightRows * cols_);
    std::vector<uint16_t>& scratch = pool.scratch_bf16(thread);
    scratch.resize(kernels_.pack_weights != nullptr ? 2 * block_size : block_size);
    uint16_t* rows = scratch.data();
    uint16_t* packed = kernels_.pack_weights != nullptr ? rows + block_size : rows;
    dequantize_block(w, r0, r1, kernels_, rows_f32, rows);
    if (kernels_.pack_weights != nullptr) kernels_.pack_weights(rows, r1 - r0, cols_, packed);
    kernels_.bf16_products(prepared_.get(), n_, packed, r1 - r0, cols_, a.y + r0, a.y_stride);
  } else {
    rows_f32.resize(static_cast<size_t>(kDequantizedRows * cols_));
    kernels_.dequantize(w)(w, r0, r1, rows_f32.data());
    for (int64_t i = 0; i < n_; i += kInputBlock)
      kernels_.dot_products(x_ + i * cols_, std::min(kInputBlock, n_ - i), cols_, rows_f32.data(), r1 - r0, cols_,
                            cols_, a.y + i * a.y_stride + r0, a.y_stride);
  }
  add_bias(a, n_, r0, r1);
}

void linear(const LinearArgs& a, ThreadPool& pool, const CpuKernels& kernels, LinearPrecision precision) {
  const MatrixSlice w = slice(*a.w, a.matrix);
  const int64_t rows = a.w->rows, cols = a.w->cols;
  if (a.n <= kMaxFusedInputs) {
    // Decode: stream each weight row once, straight from its packed form.
    const DecodeInputs inputs(a.x, a.n, cols, precision, kernels);
    const int64_t grain = std::max<int64_t>(16, rows / (8 * pool.size()));
    pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
      inputs.multiply(w, a.y, a.y_stride, r0, r1);
      add_bias(a, a.n, r0, r1);
    });
    return;
  }
  PrefillInputs inputs(a.x, a.n, cols, precision, kernels);
  pool.parallel_for(inputs.input_blocks(), 1, [&](int64_t b0, int64_t b1, int) { inputs.prepare(b0, b1); });
  pool.parallel_for(inputs.weight_blocks(*a.w), 1, [&](int64_t b0, int64_t b1, int thread) {
    for (int64_t b = b0; b < b1; ++b) inputs.multiply(a, b, pool, thread);
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
