// y = x · Wᵀ + bias on the CPU, for every weight format.
#pragma once

#include <cstdint>

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

// Splits the output rows between the pool's threads. Up to kMaxFusedInputs inputs, packed
// weight rows are streamed once through the fused kernel; longer inputs (prefill) multiply
// blocks of rows dequantized to float32.
void linear(const LinearArgs& args, ThreadPool& pool, const CpuKernels& kernels = best_cpu_kernels());

// The reference: every weight decoded by dequantize_row, dot products in double.
void linear_reference(const LinearArgs& args);

}  // namespace gptoss
