#include "backend/cuda/expert_down.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/streaming_dot.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kWarps = 16;  // a large block per multiprocessor: the staging is paid once per SM
constexpr int kMaxChoices = 8;

// One block row per token (blockIdx.y); the block's warps loop over output rows. The token's k
// expert rows are read kGroup at a time (all their loads in flight together), each dotted with
// that expert's staged hidden values, and summed with the routing weights in choice order.
template <Codes C, int kGroup>
__global__ void __launch_bounds__(kWarps * 32, 1)
    down_combine_kernel(Matrix down, const float* down_bias, const float* hidden, const int32_t* expert,
                        const float* weight, const int32_t* pair_item, int k, bool accumulate, float* out) {
  extern __shared__ float4 shared4[];
  __shared__ float fp4_table[16];
  const int token = static_cast<int>(blockIdx.y);
  const int chunks = static_cast<int>(down.cols / 32);
  float* xs = reinterpret_cast<float*>(shared4);
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));
  constexpr bool kAffine = C >= Codes::affine2;
  stage_inputs<kAffine>(hidden, down.cols, [&](int j) { return static_cast<int64_t>(pair_item[token * k + j]); }, k,
                        k, chunks, xs);
  __syncthreads();
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const float* sums = chunk_sums_of(xs, k, chunks);
  // The block's rows, a warp each at a time: the staging above is paid once per block.
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp; row < down.rows;
       row += static_cast<int64_t>(gridDim.x) * kWarps) {
    float total = 0.f;
    for (int j0 = 0; j0 < k; j0 += kGroup) {
      RowPointers rows[kGroup];
      const float* staged[kGroup];
      const float* staged_sums[kGroup];
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        rows[g] = row_pointers(down, expert[token * k + j0 + g], row);
        staged[g] = xs + static_cast<int64_t>(j0 + g) * chunks * kPaddedChunk;
        staged_sums[g] = sums + (j0 + g) * chunks;
      }
      float acc[kGroup][1] = {};
      rows_dots<C, kGroup, 1>(down, rows, staged, staged_sums, chunks, lane, fp4_table, acc);
#pragma unroll
      for (int g = 0; g < kGroup; ++g) {
        const int e = expert[token * k + j0 + g];
        float v = warp_sum(acc[g][0]);
        if (down_bias != nullptr) v += down_bias[static_cast<int64_t>(e) * down.rows + row];
        total = fmaf(weight[token * k + j0 + g], v, total);
      }
    }
    if (lane == 0) {
      float& o = out[static_cast<int64_t>(token) * down.rows + row];
      o = accumulate ? o + total : total;
    }
  }
}

template <Codes C, int kGroup>
void launch_down_combine(const Matrix& down, const float* down_bias, const float* hidden, const Routing& routing,
                         int rows, int k, bool accumulate, float* out, cudaStream_t stream) {
  static const bool raised = [] {
    cuda_check(cudaFuncSetAttribute(down_combine_kernel<C, kGroup>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    200 * 1024),
               "raising the down product's shared memory limit");
    return true;
  }();
  (void)raised;
  const size_t shared = static_cast<size_t>(staged_floats(k, down.cols / 32)) * sizeof(float);
  // A block per multiprocessor over the tokens, each looping over rows (one staging per block).
  const int64_t row_blocks = (down.rows + kWarps - 1) / kWarps;
  const int64_t wanted = std::max<int64_t>(1, (multiprocessor_count() + rows - 1) / rows);
  const dim3 grid(static_cast<unsigned>(std::min(row_blocks, wanted)), static_cast<unsigned>(rows));
  down_combine_kernel<C, kGroup><<<grid, kWarps * 32, shared, stream>>>(down, down_bias, hidden, routing.expert,
                                                                        routing.weight, routing.pair_item, k, accumulate, out);
}

}  // namespace

void down_combine(const Matrix& down, const float* down_bias, const float* hidden, const Routing& routing, int rows,
                  int k, bool accumulate, float* out, cudaStream_t stream) {
  if (rows > kDownCombineMaxRows || k > kMaxChoices || down.cols % 32 != 0)
    throw Error("cuda down_combine: " + std::to_string(rows) + " tokens of top " + std::to_string(k) +
                " are more than it takes");
  if (rows == 0) return;
  // gpt-oss's top-4 reads its four experts' rows together; other k one expert at a time.
  with_codes(down, [&]<Codes C>() {
    if (k % 4 == 0)
      launch_down_combine<C, 4>(down, down_bias, hidden, routing, rows, k, accumulate, out, stream);
    else
      launch_down_combine<C, 1>(down, down_bias, hidden, routing, rows, k, accumulate, out, stream);
  });
  cuda_check_launch("down-combine kernel");
}

}  // namespace gptoss::cuda
