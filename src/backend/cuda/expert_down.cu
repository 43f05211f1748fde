#include "backend/cuda/expert_down.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/streaming_dot.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kMaxChoices = kStreamingPass;

template <Codes C>
__global__ void __launch_bounds__(kWarps * 32)
    down_combine_kernel(Matrix down, const float* down_bias, const float* hidden, const int32_t* expert,
                        const float* weight, const int32_t* pair_item, int k, float* out) {
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
    for (int j = 0; j < k; ++j) {
      const int e = expert[token * k + j];
      float acc[kStreamingPass] = {};
      row_dots<C>(down, row_pointers(down, e, row), xs + static_cast<int64_t>(j) * chunks * kPaddedChunk,
                  sums + j * chunks, 1, chunks, lane, fp4_table, acc);
      float v = warp_sum(acc[0]);
      if (down_bias != nullptr) v += down_bias[static_cast<int64_t>(e) * down.rows + row];
      total = fmaf(weight[token * k + j], v, total);
    }
    if (lane == 0) out[static_cast<int64_t>(token) * down.rows + row] = total;
  }
}

}  // namespace

void down_combine(const Matrix& down, const float* down_bias, const float* hidden, const Routing& routing, int rows,
                  int k, float* out, cudaStream_t stream) {
  if (rows > kDownCombineMaxRows || k > kMaxChoices || down.cols % 32 != 0)
    throw Error("cuda down_combine: " + std::to_string(rows) + " tokens of top " + std::to_string(k) +
                " are more than it takes");
  if (rows == 0) return;
  const size_t shared = static_cast<size_t>(staged_floats(k, down.cols / 32)) * sizeof(float);
  with_codes(down, [&]<Codes C>() {
    static const bool raised = [] {
      cuda_check(cudaFuncSetAttribute(down_combine_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024),
                 "raising the down product's shared memory limit");
      return true;
    }();
    (void)raised;
    // About four blocks per multiprocessor, each looping over rows (one staging per block).
    const int64_t row_blocks = (down.rows + kWarps - 1) / kWarps;
    const int64_t wanted = std::max<int64_t>(1, 4 * static_cast<int64_t>(multiprocessor_count()) / rows);
    const dim3 grid(static_cast<unsigned>(std::min(row_blocks, wanted)), static_cast<unsigned>(rows));
    down_combine_kernel<C><<<grid, kWarps * 32, shared, stream>>>(down, down_bias, hidden, routing.expert,
                                                                  routing.weight, routing.pair_item, k, out);
  });
  cuda_check_launch("down-combine kernel");
}

}  // namespace gptoss::cuda
