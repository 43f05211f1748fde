#include "backend/cuda/moe_routing.cuh"

#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kMaxK = 8;

// One block for the whole batch. First a warp per row: k rounds of a warp arg-max over the
// experts (each lane scans experts lane, lane + 32, …; the loads of a round are independent) and
// a softmax over the k chosen logits. Then a counting sort of the pairs by expert: counts, their
// exclusive prefix sums, and each pair takes the next slot of its expert. Items of one expert
// end up in arbitrary order; each item is computed on its own and found again through
// pair_item, so the results do not depend on it.
__global__ void route_kernel(const float* logits, int rows, int experts, int k, int32_t* expert, float* weight,
                             int32_t* offsets, int32_t* item_row, int32_t* pair_item, int32_t* active, int slots) {
  wait_then_start_next();
  extern __shared__ int32_t next[];  // [experts]
  for (int e = static_cast<int>(threadIdx.x); e < experts; e += blockDim.x) next[e] = 0;
  const int lane = static_cast<int>(threadIdx.x) % 32, warps = static_cast<int>(blockDim.x) / 32;
  for (int row = static_cast<int>(threadIdx.x) / 32; row < rows; row += warps) {
    const float* l = logits + static_cast<int64_t>(row) * experts;
    int chosen[kMaxK];
    float value[kMaxK];
    for (int j = 0; j < k; ++j) {
      int best = -1;
      float best_value = 0.f;
      for (int e = lane; e < experts; e += 32) {
        bool taken = false;
        for (int i = 0; i < j; ++i) taken |= chosen[i] == e;
        const float v = l[e];
        if (!taken && (best < 0 || v > best_value)) {  // strict: ties keep the lower index
          best = e;
          best_value = v;
        }
      }
      for (int offset = 16; offset > 0; offset /= 2) {
        const int other = __shfl_xor_sync(0xFFFFFFFFu, best, offset);
        const float other_value = __shfl_xor_sync(0xFFFFFFFFu, best_value, offset);
        if (other >= 0 &&
            (best < 0 || other_value > best_value || (!(other_value < best_value) && other < best))) {
          best = other;
          best_value = other_value;
        }
      }
      chosen[j] = best;
      value[j] = best_value;
    }
    if (lane == 0) {
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
                               int k, bool accumulate, float* out) {
  wait_then_start_next();
  const int row = static_cast<int>(blockIdx.x);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float sum = 0.f;
    for (int j = 0; j < k; ++j)
      sum = fmaf(weight[row * k + j], expert_out[static_cast<int64_t>(pair_item[row * k + j]) * cols + c], sum);
    float& o = out[static_cast<int64_t>(row) * cols + c];
    o = accumulate ? o + sum : sum;
  }
}

}  // namespace

void route(const float* logits, int rows, int experts, int k, const Routing& routing, cudaStream_t stream) {
  if (k < 1 || k > kMaxK || k > experts || experts > 1024)
    throw Error("cuda moe: unsupported routing (" + std::to_string(experts) + " experts, top " + std::to_string(k) + ")");
  if (rows == 0) return;
  launch(route_kernel, dim3(1), dim3(1024), sizeof(int32_t) * static_cast<size_t>(experts), stream,
         "expert routing kernel", logits, rows, experts, k, routing.expert, routing.weight, routing.offsets,
         routing.item_row, routing.pair_item, routing.active, active_slots(rows, experts, k));
}

void combine_experts(const float* expert_out, int64_t cols, const Routing& routing, int rows, int k, bool accumulate,
                     float* out, cudaStream_t stream) {
  if (rows == 0) return;
  launch(combine_kernel, dim3(rows), dim3(256), 0, stream, "expert combine kernel", expert_out, cols,
         routing.pair_item, routing.weight, k, accumulate, out);
}

}  // namespace gptoss::cuda
