// The streaming products through shared-memory row tiles (linear_row_tiles.cu): for decode's one
// or two items per matrix of packed weights, on GPUs with bulk copies (sm_90 and later).
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/streaming_problems.cuh"

namespace gptoss::cuda {

// Whether the row-tile kernel takes the problems (gated: the experts' gate, up and SwiGLU): at
// most two items per matrix, packed weights (MXFP4 or affine), rows the copy engine can take whole
// (row_tiles.cuh), an sm_90 GPU, and GPTOSS_CUDA_ROW_TILES_KB not 0.
bool row_tiles_apply(const StreamingProblems& problems, const Gate* gate);

// Launches them, if row_tiles_apply; else returns false having launched nothing.
bool stream_row_tiles(const StreamingProblems& problems, const Gate* gate, cudaStream_t stream);

}  // namespace gptoss::cuda
