#include "backend/cuda/linear.cuh"

#include <mma.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/streaming_dot.cuh"
#include "backend/cuda/weight_chunk.cuh"
#include "gptoss/error.h"

namespace gptoss::cuda {

namespace {

// ---- the streaming kernel (few items) ----------------------------------------------------------
//
// A warp per weight row (streaming_dot.cuh): the items' inputs are staged in shared memory,
// kItems at a time (a compile-time count, so the accumulators are registers), and the warp's
// lanes cover the row's chunks, reading each weight byte once per pass. Gated (kGated): the warp
// reads the same row of `up` too and writes clamped_swiglu(w·x + bias, up·x + up_bias): the
// experts' gate, up and SwiGLU in one pass.
//
// One large block per multiprocessor (for each matrix of the launch), its warps looping over
// rows: the inputs are staged once per block, and staging is not free — with a block per few
// rows, copying x into every block's shared memory moved more bytes than the weights.
// Sixteen warps (128 registers a thread) where one accumulator per row suffices, eight where
// more accumulators and in-flight chunks need registers (no spilling).
constexpr int streaming_warps(int items, bool gated) { return items * (gated ? 2 : 1) <= 2 ? 16 : 8; }

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

template <Codes C, int kItems, bool kGated>
__global__ void __launch_bounds__(streaming_warps(kItems, kGated) * 32, 1)
    streaming_kernel(LinearProblem p, Gate gate) {
  extern __shared__ float4 shared4[];
  __shared__ float fp4_table[16];
  int first, count;
  const int matrix = group_items(p, static_cast<int>(blockIdx.y), first, count);
  if (count <= 0) return;
  const int chunks = static_cast<int>(p.w.cols / 32);
  float* xs = reinterpret_cast<float*>(shared4);
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  constexpr bool kAffine = C >= Codes::affine2;
  constexpr int kRows = kGated ? 2 : 1;
  constexpr int kWarps = streaming_warps(kItems, kGated);

  for (int i0 = 0; i0 < count; i0 += kItems) {
    const int n = min(kItems, count - i0);
    __syncthreads();  // the previous pass has finished reading xs
    const auto input_row = [&](int item) { return x_row_of(p, first + i0 + item); };
    stage_inputs<kAffine>(p.x, p.x_stride, input_row, n, kItems, chunks, xs);
    __syncthreads();
    if (p.norm.weight != nullptr) {
      // Block 0 of the launch also hands the normalized rows on (to the other products of x).
      const bool writes = blockIdx.x == 0 && blockIdx.y == 0;
      normalize_staged<kAffine>(xs, n, kItems, chunks, p.norm.weight, p.norm.eps, writes ? p.norm.normed : nullptr,
                                input_row);
      __syncthreads();
    }
    const float* sums = chunk_sums_of(xs, kItems, chunks);
    const float* staged[kRows];
    const float* staged_sums[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      staged[r] = xs;  // gate and up rows dot the same inputs
      staged_sums[r] = sums;
    }
    // The block's rows, a warp each at a time: the staging above is paid once per block.
    for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp; row < p.w.rows;
         row += static_cast<int64_t>(gridDim.x) * kWarps) {
      float acc[kRows][kItems] = {};
      if constexpr (kGated) {
        const RowPointers rows[2] = {row_pointers(p.w, matrix, row), row_pointers(gate.up, matrix, row)};
        rows_dots<C, 2, kItems>(p.w, rows, staged, staged_sums, chunks, lane, fp4_table, acc);
      } else {
        const RowPointers rows[1] = {row_pointers(p.w, matrix, row)};
        rows_dots<C, 1, kItems>(p.w, rows, staged, staged_sums, chunks, lane, fp4_table, acc);
      }
#pragma unroll
      for (int it = 0; it < kItems; ++it) {
        if (it >= n) break;  // n is the same across the warp
        float v = warp_sum(acc[0][it]);
        if (p.bias != nullptr) v += p.bias[static_cast<int64_t>(matrix) * p.w.rows + row];
        if constexpr (kGated) {
          float u = warp_sum(acc[kRows - 1][it]);
          if (gate.up_bias != nullptr) u += gate.up_bias[static_cast<int64_t>(matrix) * p.w.rows + row];
          v = clamped_swiglu(v, u, gate.limit, gate.alpha);
        }
        if (lane == 0) store_output(p, static_cast<int64_t>(first + i0 + it) * p.y_stride + row, v);
      }
    }
  }
}

// ---- the tiled kernel (many items) -------------------------------------------------------------
//
// A block computes a 64 (weight rows) × 64 (items) tile of y. Per step of kSteps chunks (32
// inputs each), every thread dequantizes chunks of the tile's weight rows into shared memory
// and gathers a share of the items' inputs; then every thread accumulates. bf16: 4 chunks a
// step, 8 warps each own two 16×16 accumulator fragments of the tensor cores (inputs and
// weights rounded to bf16, sums in float32); f32: 1 chunk a step (its tiles are twice as
// large), each thread owns a 4 × 4 block of outputs.
constexpr int kTile = 64;
constexpr int kTiledThreads = 256;

template <Codes C, bool kBf16>
__global__ void __launch_bounds__(kTiledThreads) tiled_kernel(LinearProblem p) {
  using Element = std::conditional_t<kBf16, __nv_bfloat16, float>;
  constexpr int kSteps = kBf16 ? 4 : 1;
  constexpr int kK = 32 * kSteps;  // inputs per step
  // bf16 tiles are [64][kK + 8] (rows padded by 16 bytes, wmma's alignment unit, against bank
  // conflicts); f32 tiles are stored input-major [kK][64 + 4] for the outer-product loop.
  constexpr int kLd = kBf16 ? kK + 8 : kTile + 4;
  constexpr int kTileElements = kBf16 ? kTile * kLd : kK * kLd;
  // Both tiles, and after the last step the bf16 accumulators (8 warps × 2 × 16 × 16 floats).
  constexpr int kSharedBytes = std::max<int>(2 * kTileElements * sizeof(Element), kBf16 ? 8 * 512 * 4 : 0);
  __shared__ __align__(32) unsigned char shared[kSharedBytes];
  Element* weights_tile = reinterpret_cast<Element*>(shared);
  Element* inputs_tile = weights_tile + kTileElements;
  __shared__ float fp4_table[16];
  __shared__ int64_t x_rows[kTile];

  int first, count;
  const int matrix = group_items(p, static_cast<int>(blockIdx.z), first, count);
  const int item0 = static_cast<int>(blockIdx.y) * kTile;
  if (item0 >= count) return;
  const int items_here = min(kTile, count - item0);
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const int tid = static_cast<int>(threadIdx.x);
  if (tid < 16) fp4_table[tid] = fp4_value(tid);
  if (tid < kTile) x_rows[tid] = tid < items_here ? x_row_of(p, first + item0 + tid) : -1;
  __syncthreads();

  const int chunks = static_cast<int>(p.w.cols / 32);
  // This thread dequantizes row tid % 64 of the tile, chunk tid / 64 of each step (bf16: every
  // thread; f32: the first 64).
  const int my_step_chunk = tid / kTile;
  const bool dequantizes = my_step_chunk < kSteps;
  const int64_t my_row = row0 + tid % kTile;
  const bool valid_row = my_row < p.w.rows;
  const RowPointers weights = row_pointers(p.w, matrix, valid_row ? my_row : 0);

  using namespace nvcuda;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_acc[2];
  float acc[4][4] = {};
  if constexpr (kBf16) {
    wmma::fill_fragment(frag_acc[0], 0.f);
    wmma::fill_fragment(frag_acc[1], 0.f);
  }
  const int warp = tid / 32;

  for (int c0 = 0; c0 < chunks; c0 += kSteps) {
    if (dequantizes) {
      const int c = c0 + my_step_chunk;
      Chunk chunk;
      const bool valid = valid_row && c < chunks;
      if (valid) load_chunk<C>(p.w, weights, c, fp4_table, chunk);
      const int r = tid % kTile;
#pragma unroll
      for (int i = 0; i < 32; ++i) {
        const float w = valid ? fmaf(chunk.scale, chunk.q[i], chunk.offset) : 0.f;
        const int k = my_step_chunk * 32 + i;
        if constexpr (kBf16)
          weights_tile[r * kLd + k] = __float2bfloat16_rn(w);
        else
          weights_tile[k * kLd + r] = w;
      }
    }
    // 64 items × kK inputs, as float4, over all threads.
    for (int idx = tid; idx < kTile * kK / 4; idx += kTiledThreads) {
      const int item = idx / (kK / 4), part = idx % (kK / 4);
      const int input = c0 * 32 + part * 4;
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (x_rows[item] >= 0 && input < p.w.cols)
        v = *reinterpret_cast<const float4*>(p.x + x_rows[item] * p.x_stride + input);
      const float values[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if constexpr (kBf16)
          inputs_tile[item * kLd + part * 4 + j] = __float2bfloat16_rn(values[j]);
        else
          inputs_tile[(part * 4 + j) * kLd + item] = values[j];
      }
    }
    __syncthreads();
    if constexpr (kBf16) {
      // Warp w: weight rows 16·(w % 4) …, items 32·(w / 4) … (two fragments).
      const int tile_row = (warp % 4) * 16, tile_item = (warp / 4) * 32;
#pragma unroll
      for (int k = 0; k < kK; k += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
        wmma::load_matrix_sync(a, weights_tile + tile_row * kLd + k, kLd);
#pragma unroll
        for (int f = 0; f < 2; ++f) {
          // B[k][n] = input n, element k: the items' rows read as a column-major matrix.
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
          wmma::load_matrix_sync(b, inputs_tile + (tile_item + 16 * f) * kLd + k, kLd);
          wmma::mma_sync(frag_acc[f], a, b, frag_acc[f]);
        }
      }
    } else {
      const int tr = (tid % 16) * 4, ti = (tid / 16) * 4;
#pragma unroll 8
      for (int k = 0; k < kK; ++k) {
        float a[4], b[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          a[j] = weights_tile[k * kLd + tr + j];
          b[j] = inputs_tile[k * kLd + ti + j];
        }
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int i = 0; i < 4; ++i) acc[r][i] = fmaf(a[r], b[i], acc[r][i]);
      }
    }
    __syncthreads();
  }

  auto store = [&](int tile_row, int tile_item, float v) {
    const int64_t row = row0 + tile_row;
    if (row >= p.w.rows || tile_item >= items_here) return;
    if (p.bias != nullptr) v += p.bias[static_cast<int64_t>(matrix) * p.w.rows + row];
    store_output(p, static_cast<int64_t>(first + item0 + tile_item) * p.y_stride + row, v);
  };
  if constexpr (kBf16) {
    // Through shared memory (a fragment's element order is opaque); the tiles are free now.
    float* mine = reinterpret_cast<float*>(shared) + warp * 512;
    const int tile_row = (warp % 4) * 16, tile_item = (warp / 4) * 32;
    wmma::store_matrix_sync(mine, frag_acc[0], 32, wmma::mem_row_major);
    wmma::store_matrix_sync(mine + 16, frag_acc[1], 32, wmma::mem_row_major);
    __syncwarp();
    for (int e = tid % 32; e < 512; e += 32) store(tile_row + e / 32, tile_item + e % 32, mine[e]);
  } else {
    const int tr = (tid % 16) * 4, ti = (tid / 16) * 4;
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int i = 0; i < 4; ++i) store(tr + r, ti + i, acc[r][i]);
  }
}

// ---- dispatch -----------------------------------------------------------------------------------

void check_problem(const LinearProblem& p) {
  if (p.w.cols % 32 != 0 || p.x_stride % 4 != 0 || (reinterpret_cast<uintptr_t>(p.x) & 15) != 0)
    throw Error("cuda linear: unsupported shape (" + std::to_string(p.w.rows) + " × " + std::to_string(p.w.cols) +
                ", inputs stride " + std::to_string(p.x_stride) + ")");
}

int matrices_of(const LinearProblem& p) { return std::max(p.matrices, 1); }

// The streaming kernel for the problem's items per pass (1, 2, 4 or 8 at compile time).
template <Codes C, int kItems, bool kGated>
void launch_streaming_items(const LinearProblem& p, const Gate& gate, cudaStream_t stream) {
  const size_t shared = static_cast<size_t>(staged_floats(kItems, p.w.cols / 32)) * sizeof(float);
  static const bool raised = [] {
    cuda_check(cudaFuncSetAttribute(streaming_kernel<C, kItems, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    200 * 1024),
               "raising the streaming product's shared memory limit");
    return true;
  }();
  (void)raised;
  // A block per multiprocessor over the launch's matrices, each looping over rows.
  constexpr int kWarps = streaming_warps(kItems, kGated);
  const int64_t row_blocks = (p.w.rows + kWarps - 1) / kWarps;
  const int64_t wanted = std::max<int64_t>(1, (multiprocessor_count() + matrices_of(p) - 1) / matrices_of(p));
  const dim3 grid(static_cast<unsigned>(std::min(row_blocks, wanted)), static_cast<unsigned>(matrices_of(p)));
  streaming_kernel<C, kItems, kGated><<<grid, kWarps * 32, shared, stream>>>(p, gate);
  cuda_check_launch("streaming linear kernel");
}

template <Codes C, bool kGated>
void launch_streaming(const LinearProblem& p, const Gate& gate, cudaStream_t stream) {
  const int items = std::max(p.max_items_per_matrix, 1);
  if (items == 1)
    launch_streaming_items<C, 1, kGated>(p, gate, stream);
  else if (items == 2)
    launch_streaming_items<C, 2, kGated>(p, gate, stream);
  else if (items <= 4)
    launch_streaming_items<C, 4, kGated>(p, gate, stream);
  else  // gated passes stop at 4 items: 8 would spill registers
    launch_streaming_items<C, kGated ? 4 : 8, kGated>(p, gate, stream);
}

template <Codes C>
void launch_tiled(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.w.rows + kTile - 1) / kTile),
                  static_cast<unsigned>((std::max(p.max_items_per_matrix, 1) + kTile - 1) / kTile),
                  static_cast<unsigned>(matrices_of(p)));
  if (precision == Precision::bf16)
    tiled_kernel<C, true><<<grid, kTiledThreads, 0, stream>>>(p);
  else
    tiled_kernel<C, false><<<grid, kTiledThreads, 0, stream>>>(p);
  cuda_check_launch("tiled linear kernel");
}

}  // namespace

void linear_streaming(const LinearProblem& p, cudaStream_t stream) {
  check_problem(p);
  if (p.items == 0) return;
  with_codes(p.w, [&]<Codes C>() { launch_streaming<C, false>(p, Gate{}, stream); });
}

bool can_gate(const LinearProblem& p, const Matrix& up) {
  return p.max_items_per_matrix <= kStreamingMaxItems && codes_of(up) == codes_of(p.w) && up.rows == p.w.rows &&
         up.cols == p.w.cols && up.count == p.w.count && up.group_size == p.w.group_size &&
         up.scale_type == p.w.scale_type;
}

void linear_swiglu(const LinearProblem& p, const Matrix& up, const float* up_bias, float limit, float alpha,
                   cudaStream_t stream) {
  check_problem(p);
  if (!can_gate(p, up)) throw Error("cuda linear_swiglu: gate and up differ in shape or format, or too many items");
  if (p.items == 0) return;
  with_codes(p.w, [&]<Codes C>() { launch_streaming<C, true>(p, Gate{up, up_bias, limit, alpha}, stream); });
}

void linear_tiled(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  check_problem(p);
  if (p.norm.weight != nullptr) throw Error("cuda linear: the tiled product does not normalize its inputs");
  if (p.items == 0) return;
  with_codes(p.w, [&]<Codes C>() { launch_tiled<C>(p, precision, stream); });
}

void linear(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  if (p.max_items_per_matrix <= kStreamingMaxItems)
    linear_streaming(p, stream);
  else
    linear_tiled(p, precision, stream);
}

}  // namespace gptoss::cuda
