#include "backend/cuda/greedy.cuh"

#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"

namespace gptoss::cuda {

namespace {

constexpr int kThreads = 1024;

struct Best {
  float value;
  int32_t id;
};

// The better of two candidates: larger value, then lower id.
__device__ __forceinline__ Best better(Best a, Best b) {
  return (b.value > a.value || (b.value == a.value && b.id < a.id)) ? b : a;
}

__global__ void argmax_kernel(const float* logits, int64_t stride, int32_t vocab, int32_t* ids) {
  wait_then_start_next();
  __shared__ Best warp_best[kThreads / 32];
  __shared__ int bad;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * stride;
  Best best{-INFINITY, vocab};
  bool finite = true;
  for (int32_t i = static_cast<int32_t>(threadIdx.x); i < vocab; i += kThreads) {
    const float v = row[i];
    finite &= isfinite(v);
    best = better(best, Best{v, i});
  }
  if (!finite) bad = 1;
  for (int offset = 16; offset > 0; offset /= 2)
    best = better(best, Best{__shfl_xor_sync(0xFFFFFFFFu, best.value, offset), __shfl_xor_sync(0xFFFFFFFFu, best.id, offset)});
  if (threadIdx.x % 32 == 0) warp_best[threadIdx.x / 32] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) best = better(best, warp_best[w]);
    ids[blockIdx.x] = bad ? -1 : best.id;
  }
}

}  // namespace

void argmax_rows(const float* logits, int rows, int64_t stride, int32_t vocab, int32_t* ids, cudaStream_t stream) {
  if (rows == 0) return;
  launch(argmax_kernel, dim3(rows), dim3(kThreads), 0, stream, "arg-max kernel", logits, stride, vocab, ids);
}

}  // namespace gptoss::cuda
