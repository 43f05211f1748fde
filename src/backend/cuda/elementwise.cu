#include "backend/cuda/elementwise.cuh"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/streaming_dot.cuh"
#include "backend/cuda/weight_chunk.cuh"

namespace gptoss::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <Codes C>
__global__ void embed_kernel(Matrix table, const int32_t* tokens, float* out) {
  __shared__ float fp4_table[16];
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));
  __syncthreads();
  const int64_t row = blockIdx.x;
  const RowPointers weights = row_pointers(table, 0, tokens[row]);
  const int chunks = static_cast<int>(table.cols / 32);
  for (int c = static_cast<int>(threadIdx.x); c < chunks; c += blockDim.x) {
    Chunk chunk;
    load_chunk<C>(table, weights, c, fp4_table, chunk);
#pragma unroll
    for (int i = 0; i < 32; ++i) out[row * table.cols + c * 32 + i] = fmaf(chunk.scale, chunk.q[i], chunk.offset);
  }
}

// One block per row; the sum of squares in double, as the CPU reference.
__global__ void rmsnorm_kernel(const float* x, int cols, const float* weight, float eps, float* out) {
  __shared__ double partial[kThreads / 32];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * cols;
  double sum = 0;
  for (int c = static_cast<int>(threadIdx.x); c < cols; c += blockDim.x) sum += static_cast<double>(xr[c]) * xr[c];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
  const float inv_rms = static_cast<float>(1.0 / sqrt(total / cols + eps));
  float* o = out + static_cast<int64_t>(blockIdx.x) * cols;
  for (int c = static_cast<int>(threadIdx.x); c < cols; c += blockDim.x) o[c] = weight[c] * (xr[c] * inv_rms);
}

// One thread per (row, frequency): it rotates that pair in every head. θ is rounded to float
// as on the CPU, its cosine and sine taken in double.
__global__ void rope_kernel(float* x, int rows, int heads, int head_dim, const int32_t* positions, RopeTable table) {
  const int half = head_dim / 2;
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= static_cast<int64_t>(rows) * half) return;
  const int64_t row = index / half;
  const int i = static_cast<int>(index % half);
  const float theta = __fmul_rn(static_cast<float>(positions[row]), table.inv_freq[i]);
  const float c = static_cast<float>(cos(static_cast<double>(theta))) * table.scaling;
  const float s = static_cast<float>(sin(static_cast<double>(theta))) * table.scaling;
  for (int h = 0; h < heads; ++h) {
    float* v = x + (row * heads + h) * head_dim;
    const float x1 = v[i], x2 = v[i + half];
    v[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
    v[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
  }
}

__global__ void add_kernel(float* x, const float* delta, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += delta[i];
}

__global__ void gather_kernel(const float* x, int64_t cols, const int32_t* rows, float* out) {
  const float* from = x + rows[blockIdx.x] * cols;
  float* to = out + static_cast<int64_t>(blockIdx.x) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) to[c] = from[c];
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = clamped_swiglu(gate[i], up[i], limit, alpha);
}

}  // namespace

void embed(const Matrix& table, const int32_t* tokens, int rows, float* out, cudaStream_t stream) {
  if (rows == 0) return;
  with_codes(table, [&]<Codes C>() { embed_kernel<C><<<rows, 128, 0, stream>>>(table, tokens, out); });
  cuda_check_launch("embedding kernel");
}

void rmsnorm(const float* x, int rows, int cols, const float* weight, float eps, float* out, cudaStream_t stream) {
  if (rows == 0) return;
  rmsnorm_kernel<<<rows, kThreads, 0, stream>>>(x, cols, weight, eps, out);
  cuda_check_launch("rmsnorm kernel");
}

void rope(float* x, int rows, int heads, int head_dim, const int32_t* positions, const RopeTable& table,
          cudaStream_t stream) {
  if (rows == 0) return;
  rope_kernel<<<blocks_for(static_cast<int64_t>(rows) * head_dim / 2), kThreads, 0, stream>>>(x, rows, heads, head_dim,
                                                                                             positions, table);
  cuda_check_launch("rope kernel");
}

void add(float* x, const float* delta, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, delta, n);
  cuda_check_launch("add kernel");
}

void gather_rows(const float* x, int64_t cols, const int32_t* rows, int n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  gather_kernel<<<n, kThreads, 0, stream>>>(x, cols, rows, out);
  cuda_check_launch("gather kernel");
}

void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out, cudaStream_t stream) {
  if (n == 0) return;
  swiglu_kernel<<<blocks_for(n), kThreads, 0, stream>>>(gate, up, n, limit, alpha, out);
  cuda_check_launch("swiglu kernel");
}

}  // namespace gptoss::cuda
