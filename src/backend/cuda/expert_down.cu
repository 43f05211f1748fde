#include "backend/cuda/expert_down.cuh"

#include <algorithm>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/streaming_dot.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

constexpr int kWarps = 16;  // a large block per multiprocessor: the staging is paid once per SM
constexpr int kMaxChoices = 8;

// One block row per token (blockIdx.y); each block takes a contiguous range of output rows, its
// warps looping over them. Each of the token's k expert rows is dotted with that expert's staged
// hidden values, and the results summed with the routing weights in choice order. With kGroup =
// k (gpt-oss's top-4) the k rows are walked together (walk_rows: their loads in flight together,
// the next round's while one is decoded); other k one choice at a time (kGroup = 1).
//
// The first round of the token's expert rows is loaded before the kernel waits for its inputs:
// the routing that chose them ran two kernels back (the gate/up product is between), so by the
// protocol of launch.cuh the choices are complete by then. They are read through L2 (__ldcg):
// an L1 line left by an earlier layer's launch would be stale.
template <Codes C, int kGroup>
__global__ void __launch_bounds__(kWarps * 32, 1)
    down_combine_kernel(Matrix down, const float* down_bias, const float* hidden, const int32_t* expert,
                        const float* weight, const int32_t* pair_item, int k, bool accumulate, float* out) {
  extern __shared__ float4 shared4[];
  __shared__ float fp4_table[16];
  const int token = static_cast<int>(blockIdx.y);
  const int64_t begin = down.rows * blockIdx.x / gridDim.x, end = down.rows * (blockIdx.x + 1) / gridDim.x;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int chunks = static_cast<int>(down.cols / 32);
  // kGroup = k: the first round of the k rows is loaded before the wait.
  int chosen[kGroup];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) chosen[g] = kGroup == 1 ? 0 : __ldcg(expert + token * k + g);
  const auto rows_of = [&](int64_t row, RowPointers (&rows)[kGroup]) {
#pragma unroll
    for (int g = 0; g < kGroup; ++g) rows[g] = row_pointers(down, chosen[g], row);
  };
  Round<C, kGroup> round;
  if constexpr (kGroup > 1) load_first<C, kGroup>(down, begin + warp, end, lane, chunks, rows_of, round);
  wait_then_start_next();
  float* xs = reinterpret_cast<float*>(shared4);
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));
  constexpr bool kAffine = C >= Codes::affine2;
  stage_inputs<kAffine>(hidden, down.cols, [&](int j) { return static_cast<int64_t>(pair_item[token * k + j]); }, k,
                        k, chunks, xs);
  __syncthreads();
  const float* sums = chunk_sums_of(xs, k, chunks);
  const auto store = [&](int64_t row, float total) {
    if (lane != 0) return;
    float& o = out[static_cast<int64_t>(token) * down.rows + row];
    o = accumulate ? o + total : total;
  };
  // total + choice j's share: its routing weight times (its row's dot product + its bias).
  const auto add_choice = [&](float total, int j, int e, int64_t row, float partial) {
    float v = warp_sum(partial);
    if (down_bias != nullptr) v += down_bias[static_cast<int64_t>(e) * down.rows + row];
    return fmaf(weight[token * k + j], v, total);
  };
  if constexpr (kGroup > 1) {
    const float* staged[kGroup];
    const float* staged_sums[kGroup];
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      staged[g] = xs + static_cast<int64_t>(g) * chunks * kPaddedChunk;
      staged_sums[g] = sums + g * chunks;
    }
    walk_rows<C, kGroup, 1>(down, begin + warp, end, kWarps, lane, chunks, rows_of, staged, staged_sums, fp4_table,
                            round, [&](int64_t row, const float (&acc)[kGroup][1]) {
                              float total = 0.f;  // in choice order
#pragma unroll
                              for (int g = 0; g < kGroup; ++g) total = add_choice(total, g, chosen[g], row, acc[g][0]);
                              store(row, total);
                            });
  } else {
    // Any other k: one choice at a time, each row's rounds loaded and decoded in turn.
    for (int64_t row = begin + warp; row < end; row += kWarps) {
      float total = 0.f;
      for (int j = 0; j < k; ++j) {
        const int e = expert[token * k + j];
        const RowPointers rows[1] = {row_pointers(down, e, row)};
        const float* staged[1] = {xs + static_cast<int64_t>(j) * chunks * kPaddedChunk};
        const float* staged_sums[1] = {sums + j * chunks};
        float acc[1][1] = {};
        for (int base = 0; base < chunks; base += Round<C, 1>::kChunks) {
          Round<C, 1> one;
          load_round<C, 1>(down, rows, base, lane, chunks, one);
          dot_round<C, 1, 1>(one, staged, staged_sums, base, lane, chunks, fp4_table, acc);
        }
        total = add_choice(total, j, e, row, acc[0][0]);
      }
      store(row, total);
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
  launch(down_combine_kernel<C, kGroup>, grid, dim3(kWarps * 32), shared, stream, "down-combine kernel", down, down_bias,
         hidden, routing.expert, routing.weight, routing.pair_item, k, accumulate, out);
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
    // Dense rows are too many registers four at a time: their four-row kernel is not even built.
    if constexpr (C >= Codes::mxfp4) {
      if (k == 4) return launch_down_combine<C, 4>(down, down_bias, hidden, routing, rows, k, accumulate, out, stream);
    }
    launch_down_combine<C, 1>(down, down_bias, hidden, routing, rows, k, accumulate, out, stream);
  });
}

}  // namespace gptoss::cuda
