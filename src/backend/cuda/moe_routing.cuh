// The mixture of experts' bookkeeping on the device, so that routing needs no trip to the host
// (and a decode step can be captured in a graph): top-k of the router logits, the (row, expert)
// pairs sorted by expert for the grouped products, and the weighted sum of the experts' outputs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gptoss::cuda {

// Where a batch's routed pairs live (device memory, sized for rows · k pairs and E experts).
struct Routing {
  int32_t* expert = nullptr;     // [rows · k] the j-th choice of row r at r·k + j
  float* weight = nullptr;       // [rows · k] its softmax weight
  int32_t* offsets = nullptr;    // [E + 1] the items of expert e are [offsets[e], offsets[e+1])
  int32_t* item_row = nullptr;   // [rows · k] the input row of each item (items sorted by expert)
  int32_t* pair_item = nullptr;  // [rows · k] the item of pair r·k + j
  // [min(E, rows · k)] the experts with items, in order, then −1: the grouped products launch
  // for these (LinearProblem::matrix_list).
  int32_t* active = nullptr;
};

inline int active_slots(int rows, int experts, int k) { return rows * k < experts ? rows * k : experts; }

// For each row: the k largest logits (ties to the lower expert, as route_token on the CPU) and a
// softmax over those k only. Then the counting sort of the pairs by expert. experts ≤ 1024, k ≤ 8.
void route(const float* logits, int rows, int experts, int k, const Routing& routing, cudaStream_t stream);

// out[r] = Σ_j weight[r·k + j] · expert_out[pair_item[r·k + j]] (cols floats per row), j in order
// (out[r] += … when accumulating).
void combine_experts(const float* expert_out, int64_t cols, const Routing& routing, int rows, int k, bool accumulate,
                     float* out, cudaStream_t stream);

}  // namespace gptoss::cuda
