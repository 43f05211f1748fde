// The CUDA backend's small kernels: embedding lookup, RMSNorm, RoPE, residual add, row gather
// and the experts' SwiGLU. Each matches the CPU reference of the same name (norm_rope.h,
// kernels_scalar.cpp) up to float32 rounding. All pointers are device memory; asynchronous.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/rope.cuh"
#include "quant/matrix.h"

namespace gptoss::cuda {

// out[r] = row tokens[r] of `table`, dequantized.
void embed(const Matrix& table, const int32_t* tokens, int rows, float* out, cudaStream_t stream);

// out = x / sqrt(mean(x²) + eps) · weight, per row (out may be x).
void rmsnorm(const float* x, int rows, int cols, const float* weight, float eps, float* out, cudaStream_t stream);

// Rotates every head (`heads` a row) of every row by the row's position (NeoX half-split
// pairs, rope.cuh); head_dim ≤ kMaxHeadDim.
void rope(float* x, int heads, int rows, int head_dim, const int32_t* positions, const RopeTable& table,
          cudaStream_t stream);

void add(float* x, const float* delta, int64_t n, cudaStream_t stream);  // x += delta

// out[i] = x[rows[i]] for i < n (cols floats each).
void gather_rows(const float* x, int64_t cols, const int32_t* rows, int n, float* out, cudaStream_t stream);

// out = (clamp(up, ±limit) + 1) · g · σ(alpha · g) with g = min(gate, limit), elementwise.
void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out, cudaStream_t stream);

}  // namespace gptoss::cuda
