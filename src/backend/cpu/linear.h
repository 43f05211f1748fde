// y = x · Wᵀ + bias on the CPU, for every weight format.
#pragma once

#include <cstdint>
#include <string>

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

// How long inputs multiply: f32 (exact up to float32 sums) or bf16 (inputs and weights rounded
// to bf16, products summed in float32: several times faster where the CPU has a bf16 product).
enum class LinearPrecision { f32, bf16 };

// LoadOptions::precision ("auto", "f32" or "bf16") on this CPU: auto is bf16 where `kernels`
// have a bf16 product. Throws gptoss::Error for another name, or for bf16 where there is none.
LinearPrecision resolve_precision(const std::string& name, const CpuKernels& kernels = best_cpu_kernels());

// Splits the output rows between the pool's threads. Up to kMaxFusedInputs inputs, packed
// weight rows are streamed once through the fused kernel (float32, whatever the precision);
// longer inputs (prefill) multiply blocks of rows dequantized to float32, or to bf16 when
// `precision` is bf16 and the kernels have a bf16 product (else float32).
void linear(const LinearArgs& args, ThreadPool& pool, const CpuKernels& kernels = best_cpu_kernels(),
            LinearPrecision precision = LinearPrecision::f32);

// The reference: every weight decoded by dequantize_row, dot products in double.
void linear_reference(const LinearArgs& args);

}  // namespace gptoss
