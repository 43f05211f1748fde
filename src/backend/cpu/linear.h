// y = x · Wᵀ + bias on the CPU, for every weight format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "util/thread_pool.h"
#include "quant/matrix.h"

namespace gptoss {

struct LinearArgs {
  const float* x = nullptr;  // [n, w.cols], row stride w.cols
  int64_t n = 0;
  const Matrix* w = nullptr;
  int64_t matrix = 0;            // which matrix of a stack
  const float* bias = nullptr;   // [w.rows] or null
  float* y = nullptr;            // [n, y_stride]
  int64_t y_stride = 0;
};

// How products multiply: f32 (exact up to float32 sums) or bf16 (inputs rounded to bf16, and for
// long inputs the weights too; products summed in float32: several times faster for prefill, and
// fewer instructions per weight for decode, where the CPU has a bf16 product).
enum class LinearPrecision { f32, bf16 };

// LoadOptions::precision ("auto", "f32" or "bf16") on this CPU: auto is bf16 where `kernels`
// have a bf16 product. Throws gptoss::Error for another name, or for bf16 where there is none.
LinearPrecision resolve_precision(const std::string& name, const CpuKernels& kernels = best_cpu_kernels());

// Up to kMaxFusedInputs input rows, prepared once for the streaming kernels that multiply them
// with packed weight rows: in float32, or, when `precision` is bf16 and the kernels have a bf16
// decode kernel, rounded to bf16 with their 32-column sums (then weight formats without a bf16
// kernel still use the float32 rows). Keeps `x`'s address: x must outlive it.
class DecodeInputs {
 public:
  DecodeInputs(const float* x, int64_t n, int64_t cols, LinearPrecision precision,
               const CpuKernels& kernels = best_cpu_kernels());
  // y[i·y_stride + r] = Σ_c x[i, c] · w[r, c] for i < n, r in [r0, r1).
  void multiply(const MatrixSlice& w, float* y, int64_t y_stride, int64_t r0, int64_t r1) const;

 private:
  const float* x_;
  int64_t n_;
  const CpuKernels& kernels_;
  std::vector<uint16_t> rounded_;  // empty in float32
  std::vector<float> chunk_sums_;
};

// Longer inputs (prefill), prepared once for products with any number of weight matrices of
// `cols` columns: in float32 they are used as they are; when `precision` is bf16 and the
// kernels have a bf16 product, they are rounded and laid out for it. A product goes by blocks
// of block_rows() weight rows, dequantized together (float32 or bf16) and multiplied with all
// the inputs: callers spread the blocks of one or several products over a pool.
class PrefillInputs {
 public:
  PrefillInputs(const float* x, int64_t n, int64_t cols, LinearPrecision precision,
                const CpuKernels& kernels = best_cpu_kernels());
  // prepare(b0, b1) for b0 < b1 ≤ input_blocks() prepares input rows [16·b0, 16·b1); every
  // block must be prepared (from any threads) before multiply.
  int64_t input_blocks() const;
  void prepare(int64_t b0, int64_t b1);
  int64_t block_rows() const;
  int64_t weight_blocks(const Matrix& w) const { return (w.rows + block_rows() - 1) / block_rows(); }
  // Rows [b·block_rows(), …) of y = x · Wᵀ + bias for the matrix, bias and y of `a` (a.x and
  // a.n are this object's), using the pool's scratch buffers of `thread`.
  void multiply(const LinearArgs& a, int64_t block, ThreadPool& pool, int thread) const;

 private:
  const float* x_;
  int64_t n_, cols_;
  const CpuKernels& kernels_;
  bool bf16_;
  std::unique_ptr<uint16_t[]> prepared_;  // bf16 only; uninitialized until prepare()
};

// Splits the output rows between the pool's threads. Up to kMaxFusedInputs inputs, packed
// weight rows are streamed once (DecodeInputs); longer inputs multiply blocks of dequantized
// rows (PrefillInputs).
void linear(const LinearArgs& args, ThreadPool& pool, const CpuKernels& kernels = best_cpu_kernels(),
            LinearPrecision precision = LinearPrecision::f32);

// The reference: every weight decoded by dequantize_row, dot products in double.
void linear_reference(const LinearArgs& args);

}  // namespace gptoss
