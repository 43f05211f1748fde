// The problems a streaming (decode) launch takes, and the pieces of their kernels that read
// and write them: shared by the register-streaming kernel (linear.cu) and the row-tile one
// (linear_row_tiles.cu).
#pragma once

#include <algorithm>
#include <span>

#include "backend/cuda/device_info.h"
#include "backend/cuda/linear.cuh"

namespace gptoss::cuda {

// The matrix of launch group g and its items; count 0 for a skipped group.
__device__ __forceinline__ int group_items(const LinearProblem& p, int group, int& first, int& count) {
  const int matrix = p.matrix_list == nullptr ? group : p.matrix_list[group];
  first = 0;
  count = 0;
  if (matrix < 0) return 0;
  first = p.offsets == nullptr ? 0 : p.offsets[matrix];
  count = p.offsets == nullptr ? p.items : p.offsets[matrix + 1] - first;
  return matrix;
}

__device__ __forceinline__ int64_t x_row_of(const LinearProblem& p, int item) {
  return p.x_rows == nullptr ? item : p.x_rows[item];
}

// y = v, or y += v for a residual update (one addition, as a separate add would make).
__device__ __forceinline__ void store_output(const LinearProblem& p, int64_t at, float v) {
  p.y[at] = p.accumulate ? p.y[at] + v : v;
}

struct Gate {
  Matrix up;
  const float* up_bias;
  float limit, alpha;
};

// A launch of up to three products: several dense products of the same inputs (the attention's
// q, k and v), problem i taking the grid's blocks [first_block[i], first_block[i + 1]) (the last
// up to gridDim.x) — one wave of blocks, shared in proportion to their rows; or one problem over a
// stack of matrices (blockIdx.y picks the matrix group).
struct StreamingProblems {
  LinearProblem problem[kMaxSharedInputProducts];
  int first_block[kMaxSharedInputProducts] = {};
  int count = 1;
};

// This block's problem, and its place among that problem's blocks.
struct BlockShare {
  int index, block, blocks;
};

__device__ __forceinline__ BlockShare share_of_block(const StreamingProblems& problems) {
  int index = 0;
  while (index + 1 < problems.count && static_cast<int>(blockIdx.x) >= problems.first_block[index + 1]) ++index;
  const int end = index + 1 < problems.count ? problems.first_block[index + 1] : static_cast<int>(gridDim.x);
  return {index, static_cast<int>(blockIdx.x) - problems.first_block[index], end - problems.first_block[index]};
}

// The blocks problem i of the launch wants (host side): a block per multiprocessor, over the
// launch's matrices, or shared among its problems in proportion to their rows.
inline int64_t wanted_blocks(const StreamingProblems& problems, int i) {
  const LinearProblem& q = problems.problem[i];
  if (problems.count == 1) {
    const int64_t matrices = std::max(q.matrices, 1);
    return std::max<int64_t>(1, (multiprocessor_count() + matrices - 1) / matrices);
  }
  int64_t rows = 0;
  for (int j = 0; j < problems.count; ++j) rows += problems.problem[j].w.rows;
  return std::max<int64_t>(1, multiprocessor_count() * q.w.rows / rows);
}

// The launch's grid (host side), setting problems.first_block: each problem's wanted_blocks, but
// never more than max_blocks(problem) (what it can divide among them).
template <class MaxBlocks>
dim3 streaming_grid(StreamingProblems& problems, MaxBlocks max_blocks) {
  const LinearProblem& p = problems.problem[0];
  if (problems.count == 1)
    return dim3(static_cast<unsigned>(std::min<int64_t>(max_blocks(p), wanted_blocks(problems, 0))),
                static_cast<unsigned>(std::max(p.matrices, 1)));
  int blocks = 0;
  for (int i = 0; i < problems.count; ++i) {
    problems.first_block[i] = blocks;
    blocks += static_cast<int>(std::min<int64_t>(wanted_blocks(problems, i), max_blocks(problems.problem[i])));
  }
  return dim3(static_cast<unsigned>(blocks));
}

// The products of a span as one launch's problems (host side; at most kMaxSharedInputProducts).
inline StreamingProblems gathered(std::span<const LinearProblem> problems) {
  StreamingProblems launched;
  launched.count = static_cast<int>(problems.size());
  std::copy(problems.begin(), problems.end(), launched.problem);
  return launched;
}

}  // namespace gptoss::cuda
