#include "backend/cuda/elementwise.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/streaming_dot.cuh"
#include "backend/cuda/weight_chunk.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <Codes C>
__global__ void embed_kernel(Matrix table, const int32_t* tokens, float* out) {
  wait_then_start_next();
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

// One block per row, a float4 per thread (blockDim = cols / 4 rounded up to warps, ≤ 1024), so
// that every load is in flight at once: a lone block is latency-bound. The sum of squares in
// double, as the CPU reference.
__global__ void rmsnorm_kernel(const float* x, int cols, const float* weight, float eps, float* out) {
  wait_then_start_next();
  __shared__ double partial[32];
  const float4* xr = reinterpret_cast<const float4*>(x + static_cast<int64_t>(blockIdx.x) * cols);
  const int vectors = cols / 4;
  double sum = 0;
  for (int c = static_cast<int>(threadIdx.x); c < vectors; c += blockDim.x) {
    const float4 v = xr[c];
    sum += static_cast<double>(v.x) * v.x + static_cast<double>(v.y) * v.y + static_cast<double>(v.z) * v.z +
           static_cast<double>(v.w) * v.w;
  }
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += partial[w];
  const float inv_rms = static_cast<float>(1.0 / sqrt(total / cols + eps));
  const float4* w4 = reinterpret_cast<const float4*>(weight);
  float4* o = reinterpret_cast<float4*>(out + static_cast<int64_t>(blockIdx.x) * cols);
  for (int c = static_cast<int>(threadIdx.x); c < vectors; c += blockDim.x) {
    const float4 v = xr[c], g = w4[c];
    o[c] = make_float4(g.x * (v.x * inv_rms), g.y * (v.y * inv_rms), g.z * (v.z * inv_rms), g.w * (v.w * inv_rms));
  }
}

// One block per row: its angles first (rope.cuh), shared by every head, then a thread per
// (head, pair). The angles depend only on the positions (uploaded before the step's
// kernels), so they are computed while the previous kernel finishes.
__global__ void rope_kernel(float* x, int heads, int head_dim, const int32_t* positions, RopeTable table) {
  __shared__ float cosines[kMaxHeadDim / 2], sines[kMaxHeadDim / 2];
  const int half = head_dim / 2;
  const int64_t row = blockIdx.x;
  rope_angles(__ldcg(positions + row), table, half, cosines, sines);
  wait_then_start_next();
  __syncthreads();
  for (int index = static_cast<int>(threadIdx.x); index < heads * half; index += blockDim.x) {
    const int head = index / half, i = index % half;
    rotate_pair(x + (row * heads + head) * head_dim, i, half, cosines[i], sines[i]);
  }
}

__global__ void add_kernel(float* x, const float* delta, int64_t n) {
  wait_then_start_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += delta[i];
}

__global__ void gather_kernel(const float* x, int64_t cols, const int32_t* rows, float* out) {
  wait_then_start_next();
  const float* from = x + rows[blockIdx.x] * cols;
  float* to = out + static_cast<int64_t>(blockIdx.x) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) to[c] = from[c];
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out) {
  wait_then_start_next();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = clamped_swiglu(gate[i], up[i], limit, alpha);
}

}  // namespace

void embed(const Matrix& table, const int32_t* tokens, int rows, float* out, cudaStream_t stream) {
  if (rows == 0) return;
  with_codes(table, [&]<Codes C>() {
    launch(embed_kernel<C>, dim3(rows), dim3(128), 0, stream, "embedding kernel", table, tokens, out);
  });
}

void rmsnorm(const float* x, int rows, int cols, const float* weight, float eps, float* out, cudaStream_t stream) {
  if (rows == 0) return;
  if (cols % 4 != 0) throw Error("cuda rmsnorm: " + std::to_string(cols) + " columns are not a multiple of 4");
  const int threads = std::min(1024, (cols / 4 + 31) / 32 * 32);
  launch(rmsnorm_kernel, dim3(rows), dim3(threads), 0, stream, "rmsnorm kernel", x, cols, weight, eps, out);
}

void rope(float* x, int heads, int rows, int head_dim, const int32_t* positions, const RopeTable& table,
          cudaStream_t stream) {
  if (rows == 0) return;
  launch(rope_kernel, dim3(rows), dim3(kThreads), 0, stream, "rope kernel", x, heads, head_dim, positions, table);
}

void add(float* x, const float* delta, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  launch(add_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream, "add kernel", x, delta, n);
}

void gather_rows(const float* x, int64_t cols, const int32_t* rows, int n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  launch(gather_kernel, dim3(n), dim3(kThreads), 0, stream, "gather kernel", x, cols, rows, out);
}

void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out, cudaStream_t stream) {
  if (n == 0) return;
  launch(swiglu_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream, "swiglu kernel", gate, up, n, limit, alpha,
         out);
}

}  // namespace gptoss::cuda
