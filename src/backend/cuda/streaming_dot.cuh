// The pieces of the streaming (decode) products: inputs staged in shared memory, and a warp's
// dot products of one weight row with each staged input, the row's bytes read once. The
// products of linear.cu and the experts' fused kernels (expert_kernels.cu) are built of them.
#pragma once

#include "backend/cuda/weight_chunk.cuh"

namespace gptoss::cuda {

inline constexpr int kStreamingPass = 8;  // inputs multiplied per pass over a row (register accumulators)
// Each 32-input chunk is padded to 36 floats in shared memory, so that the 16-byte reads of a
// quarter warp (8 lanes at chunk stride) fall in distinct banks.
inline constexpr int kPaddedChunk = 36;

// Shared floats for `capacity` staged inputs of `chunks` chunks: the inputs, then one sum per
// chunk (the affine formats' offset term Σ x_i).
__host__ __device__ constexpr int64_t staged_floats(int capacity, int64_t chunks) {
  return capacity * chunks * (kPaddedChunk + 1);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  return v;
}

// Copies the inputs input_row(i), i < n ≤ capacity, each cols = 32·chunks floats at
// x + row·x_stride (16-byte aligned), into xs and, for affine weights, their chunk sums after
// the capacity's inputs. The whole block calls it, between barriers.
template <bool kAffine, class InputRow>
__device__ __forceinline__ void stage_inputs(const float* x, int64_t x_stride, InputRow input_row, int n, int capacity,
                                             int chunks, float* xs) {
  for (int idx = static_cast<int>(threadIdx.x); idx < n * chunks * 8; idx += blockDim.x) {
    const int item = idx / (chunks * 8), within = idx % (chunks * 8);
    const float4 v = *reinterpret_cast<const float4*>(x + input_row(item) * x_stride + within * 4);
    *reinterpret_cast<float4*>(xs + (item * chunks + within / 8) * kPaddedChunk + (within % 8) * 4) = v;
  }
  if constexpr (kAffine) {
    __syncthreads();
    float* chunk_sums = xs + static_cast<int64_t>(capacity) * chunks * kPaddedChunk;
    for (int idx = static_cast<int>(threadIdx.x); idx < n * chunks; idx += blockDim.x) {
      const float* c = xs + idx * kPaddedChunk;
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < 32; ++i) sum += c[i];
      chunk_sums[idx] = sum;
    }
  }
}

// Where stage_inputs put the chunk sums of xs staged with `capacity` inputs.
__device__ __forceinline__ const float* chunk_sums_of(const float* xs, int capacity, int chunks) {
  return xs + static_cast<int64_t>(capacity) * chunks * kPaddedChunk;
}

// acc[it] += lane's share of row · staged input it, for it < n (inputs at xs, their chunk sums
// at sums); lane l takes chunks l, l + 32, …, so the warp reads the row once. warp_sum(acc[it])
// is the dot product.
template <Codes C>
__device__ __forceinline__ void row_dots(const Matrix& w, const RowPointers& row, const float* xs, const float* sums,
                                         int n, int chunks, int lane, const float* fp4_table,
                                         float (&acc)[kStreamingPass]) {
  constexpr bool kAffine = C >= Codes::affine2;
  // Chunks loaded per round before any is decoded: as many as registers allow for the format.
  constexpr int kAhead = C == Codes::f32 ? 1 : (C == Codes::f16 || C == Codes::bf16) ? 2 : 4;
  for (int c0 = lane; c0 < chunks; c0 += 32 * kAhead) {
    RawChunk<C> raw[kAhead];
#pragma unroll
    for (int a = 0; a < kAhead; ++a)
      if (c0 + 32 * a < chunks) load_raw<C>(w, row, c0 + 32 * a, raw[a]);
#pragma unroll
    for (int a = 0; a < kAhead; ++a) {
      const int c = c0 + 32 * a;
      if (c >= chunks) break;
      Chunk chunk;
      decode_raw<C>(raw[a], fp4_table, chunk);
#pragma unroll
      for (int it = 0; it < kStreamingPass; ++it) {
        if (it >= n) break;
        const float4* xc = reinterpret_cast<const float4*>(xs + (it * chunks + c) * kPaddedChunk);
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float4 v = xc[i];
          dot = fmaf(v.x, chunk.q[4 * i], dot);
          dot = fmaf(v.y, chunk.q[4 * i + 1], dot);
          dot = fmaf(v.z, chunk.q[4 * i + 2], dot);
          dot = fmaf(v.w, chunk.q[4 * i + 3], dot);
        }
        if constexpr (kAffine)
          acc[it] = fmaf(chunk.scale, dot, fmaf(chunk.offset, sums[it * chunks + c], acc[it]));
        else
          acc[it] = fmaf(chunk.scale, dot, acc[it]);
      }
    }
  }
}

// gpt-oss's clamped SwiGLU: (clamp(u, ±limit) + 1) · g · σ(alpha · g) with g = min(gate, limit)
// (the CPU's kernels_scalar.cpp swiglu).
__device__ __forceinline__ float clamped_swiglu(float gate, float up, float limit, float alpha) {
  const float g = fminf(gate, limit);
  const float u = fminf(fmaxf(up, -limit), limit);
  return (u + 1.f) * (g / (1.f + expf(-alpha * g)));
}

}  // namespace gptoss::cuda
