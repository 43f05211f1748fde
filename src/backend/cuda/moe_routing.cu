#include "backend/cuda/moe_routing.cuh"

#include <string>

#include "backend/cuda/cuda_check.h"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kMaxK = 8;

// One block for the whole batch. First each thread takes rows: k passes of an arg-max over the
// experts (k and the expert count are small) and a softmax over the k chosen logits. Then a
// counting sort of the pairs by expert: counts, their exclusive prefix sums, and each pair takes
// the next slot of its expert. Items of one expert end up in arbitrary order; each item is
// computed on its own and found again through pair_item, so the results do not depend on it.
__global__ void route_kernel(const float* logits, int rows, int experts, int k, int32_t* expert, float* weight,
                             int32_t* offsets, int32_t* item_row, int32_t* pair_item, int32_t* active, int slots) {
  extern __shared__ int32_t next[];  // [experts]
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x) next[e] = 0;
  for (int row = static_cast<int>(threadIdx.x); row < rows; row += blockDim.x) {
    const float* l = logits + static_cast<int64_t>(row) * experts;
    int chosen[kMaxK];
    float value[kMaxK];
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (int e = 0; e < experts; ++e) {
        bool taken = false;
        for (int i = 0; i < j; ++i) taken |= chosen[i] == e;
        if (!taken && (best < 0 || l[e] > l[best])) best = e;  // strict: ties keep the lower index
      }
      chosen[j] = best;
      value[j] = l[best];
    }
    const float max_logit = value[0];
    float sum = 0.f;
    for (int j = 0; j < k; ++j) {
      value[j] = expf(value[j] - max_logit);
      sum += value[j];
    }
    for (int j = 0; j < k; ++j) {
      expert[row * k + j] = chosen[j];
      weight[row * k + j] = value[j] / sum;
    }
  }
  __syncthreads();  // orders the block's global writes of `expert` before the reads below
  const int pairs = rows * k;
  for (int i = static_cast<int>(threadIdx.x); i < pairs; i += blockDim.x) atomicAdd(&next[expert[i]], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t running = 0, used = 0;
    for (int e = 0; e < experts; ++e) {
      const int32_t count = next[e];
      if (count > 0 && used < slots) active[used++] = e;
      offsets[e] = running;
      next[e] = running;
      running += count;
    }
    offsets[experts] = running;
    while (used < slots) active[used++] = -1;
  }
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < pairs; i += blockDim.x) {
    const int32_t item = atomicAdd(&next[expert[i]], 1);
    item_row[item] = i / k;
    pair_item[i] = item;
  }
}

__global__ void combine_kernel(const float* expert_out, int64_t cols, const int32_t* pair_item, const float* weight,
                               int k, float* out) {
  const int row = static_cast<int>(blockIdx.x);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.f;
    for (int j = 0; j < k; ++j)
      sum = fmaf(weight[row * k + j], expert_out[static_cast<int64_t>(pair_item[row * k + j]) * cols + c], sum);
    out[static_cast<int64_t>(row) * cols + c] = sum;
  }
}

}  // namespace

void route(const float* logits, int rows, int experts, int k, const Routing& routing, cudaStream_t stream) {
  if (k < 1 || k > kMaxK || k > experts || experts > 1024)
    throw Error("cuda moe: unsupported routing (" + std::to_string(experts) + " experts, top " + std::to_string(k) + ")");
  if (rows == 0) return;
  route_kernel<<<1, 1024, sizeof(int32_t) * static_cast<size_t>(experts), stream>>>(
      logits, rows, experts, k, routing.expert, routing.weight, routing.offsets, routing.item_row, routing.pair_item,
      routing.active, active_slots(rows, experts, k));
  cuda_check_launch("expert routing kernel");
}

void combine_experts(const float* expert_out, int64_t cols, const Routing& routing, int rows, int k, float* out,
                     cudaStream_t stream) {
  if (rows == 0) return;
  combine_kernel<<<rows, 256, 0, stream>>>(expert_out, cols, routing.pair_item, routing.weight, k, out);
  cuda_check_launch("expert combine kernel");
}

}  // namespace gptoss::cuda
