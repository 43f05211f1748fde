// The experts' down products fused with their weighted sum, for decode's few tokens: block
// (8 output features, token) stages the token's k SwiGLU rows, and the warp of feature r adds
// up, over the token's choices j, w_j · (down_{e_j}[r] · h_j + down_bias_{e_j}[r]). Each chosen
// expert's rows are read once per token, so for more tokens the grouped product (which reads
// each expert once for all its tokens) and combine_experts take over.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/moe_routing.cuh"
#include "quant/matrix.h"

namespace gptoss::cuda {

inline constexpr int kDownCombineMaxRows = 4;

// out[t] = Σ_j weight[t·k + j] · (down_{expert[t·k+j]} · hidden[pair_item[t·k + j]] + bias), for
// t < rows ≤ kDownCombineMaxRows (out[t] += … when accumulating); hidden rows have down.cols
// floats, down_bias is [experts × down.rows] or null.
void down_combine(const Matrix& down, const float* down_bias, const float* hidden, const Routing& routing, int rows,
                  int k, bool accumulate, float* out, cudaStream_t stream);

}  // namespace gptoss::cuda
