#include "backend/cuda/linear.cuh"

#include <mma.h>

#include <algorithm>
#include <string>
#include <type_traits>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/linear_row_tiles.cuh"
#include "backend/cuda/streaming_dot.cuh"
#include "backend/cuda/streaming_problems.cuh"
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
// Each block takes a contiguous range of rows, its warps walking them in rounds (walk_rows: the
// next round's loads in flight while one is decoded). For dense problems the first round is
// loaded before the kernel waits for its inputs (launch.cuh), so that its latency overlaps the
// previous kernel's tail; the experts' matrices are known only after that wait. (A bulk L2
// prefetch of the block's rows at its start was measured and did not pay: docs/PERFORMANCE.md.)
//
// One large block per multiprocessor (for each matrix of the launch): the inputs are staged
// once per block, and staging is not free — with a block per few rows, copying x into every
// block's shared memory moved more bytes than the weights. Sixteen warps (128 registers a
// thread) where one accumulator per row suffices, eight where more accumulators and in-flight
// chunks need registers (no spilling; f32 rows are twice bf16's words).
template <Codes C>
constexpr int streaming_warps(int items, bool gated) {
  return items * (gated ? 2 : 1) <= 2 && !(C == Codes::f32 && gated) ? 16 : 8;
}

template <Codes C, int kItems, bool kGated>
__global__ void __launch_bounds__(streaming_warps<C>(kItems, kGated) * 32, 1)
    streaming_kernel(StreamingProblems problems, Gate gate) {
  extern __shared__ float4 shared4[];
  __shared__ float fp4_table[16];
  const auto [index, block, blocks] = share_of_block(problems);
  const LinearProblem& p = problems.problem[index];
  const int group = static_cast<int>(blockIdx.y);
  const int64_t begin = p.w.rows * block / blocks, end = p.w.rows * (block + 1) / blocks;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int chunks = static_cast<int>(p.w.cols / 32);
  constexpr bool kAffine = C >= Codes::affine2;
  constexpr int kRows = kGated ? 2 : 1;
  constexpr int kWarps = streaming_warps<C>(kItems, kGated);
  // Weight row `row` of the matrix (and of up, gated).
  int matrix = group;
  const auto rows_of = [&](int64_t row, RowPointers (&rows)[kRows]) {
    rows[0] = row_pointers(p.w, matrix, row);
    if constexpr (kGated) rows[1] = row_pointers(gate.up, matrix, row);
  };
  // A stack's matrix comes from the list the previous kernel (the routing) wrote; a dense
  // problem's weights are known before the inputs are: their first loads overlap the wait.
  const bool listed = p.matrix_list != nullptr || p.offsets != nullptr;
  Round<C, kRows> round;
  if (!listed) load_first<C, kRows>(p.w, begin + warp, end, lane, chunks, rows_of, round);
  wait_then_start_next();
  int first, count;
  matrix = group_items(p, group, first, count);
  if (count <= 0) return;
  if (listed) load_first<C, kRows>(p.w, begin + warp, end, lane, chunks, rows_of, round);
  float* xs = reinterpret_cast<float*>(shared4);
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));

  for (int i0 = 0; i0 < count; i0 += kItems) {
    const int n = min(kItems, count - i0);
    __syncthreads();  // the previous pass has finished reading xs
    if (i0 > 0) load_first<C, kRows>(p.w, begin + warp, end, lane, chunks, rows_of, round);
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
    const auto finish = [&](int64_t row, const float (&acc)[kRows][kItems]) {
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
    };
    walk_rows<C, kRows, kItems>(p.w, begin + warp, end, kWarps, lane, chunks, rows_of, staged, staged_sums, fp4_table,
                                round, finish);
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

  wait_then_start_next();
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

// The streaming kernel for the problems' items per pass (1, 2, 4 or 8 at compile time).
template <Codes C, int kItems, bool kGated>
void launch_streaming_items(StreamingProblems problems, const Gate& gate, cudaStream_t stream) {
  const LinearProblem& p = problems.problem[0];
  const size_t shared = static_cast<size_t>(staged_floats(kItems, p.w.cols / 32)) * sizeof(float);
  static const bool raised = [] {
    cuda_check(cudaFuncSetAttribute(streaming_kernel<C, kItems, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    200 * 1024),
               "raising the streaming product's shared memory limit");
    return true;
  }();
  (void)raised;
  constexpr int kWarps = streaming_warps<C>(kItems, kGated);
  const dim3 grid = streaming_grid(problems, [](const LinearProblem& q) { return (q.w.rows + kWarps - 1) / kWarps; });
  launch(streaming_kernel<C, kItems, kGated>, grid, dim3(kWarps * 32), shared, stream, "streaming linear kernel",
         problems, gate);
}

template <Codes C, bool kGated>
void launch_streaming(const StreamingProblems& problems, const Gate& gate, cudaStream_t stream) {
  const int items = std::max(problems.problem[0].max_items_per_matrix, 1);
  if (items == 1)
    launch_streaming_items<C, 1, kGated>(problems, gate, stream);
  else if (items == 2)
    launch_streaming_items<C, 2, kGated>(problems, gate, stream);
  else if (items <= 4)
    launch_streaming_items<C, 4, kGated>(problems, gate, stream);
  else  // gated passes stop at 4 items: 8 would spill registers
    launch_streaming_items<C, kGated ? 4 : 8, kGated>(problems, gate, stream);
}

// The row-tile kernel where asked for or best, else the registers'.
void run_streaming(const StreamingProblems& problems, const Gate* gate, StreamingKernel kernel, cudaStream_t stream) {
  const bool tiles = kernel == StreamingKernel::row_tiles ||
                     (kernel == StreamingKernel::best && problems.problem[0].w.format == WeightFormat::affine);
  if (tiles && stream_row_tiles(problems, gate, stream)) return;
  if (kernel == StreamingKernel::row_tiles)
    throw Error("cuda linear: the row-tile kernel does not take this product (" +
                std::to_string(problems.problem[0].w.rows) + " × " + std::to_string(problems.problem[0].w.cols) +
                ", " + std::to_string(problems.problem[0].max_items_per_matrix) + " items a matrix)");
  with_codes(problems.problem[0].w, [&]<Codes C>() {
    if (gate != nullptr)
      launch_streaming<C, true>(problems, *gate, stream);
    else
      launch_streaming<C, false>(problems, Gate{}, stream);
  });
}

StreamingProblems one_problem(const LinearProblem& p) {
  StreamingProblems problems;
  problems.problem[0] = p;
  return problems;
}

template <Codes C>
void launch_tiled(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.w.rows + kTile - 1) / kTile),
                  static_cast<unsigned>((std::max(p.max_items_per_matrix, 1) + kTile - 1) / kTile),
                  static_cast<unsigned>(matrices_of(p)));
  launch(precision == Precision::bf16 ? tiled_kernel<C, true> : tiled_kernel<C, false>, grid, dim3(kTiledThreads), 0,
         stream, "tiled linear kernel", p);
}

}  // namespace

void linear_streaming(const LinearProblem& p, cudaStream_t stream, StreamingKernel kernel) {
  check_problem(p);
  if (p.items == 0 || p.w.rows == 0) return;
  run_streaming(one_problem(p), nullptr, kernel, stream);
}

bool can_gate(const LinearProblem& p, const Matrix& up) {
  return p.max_items_per_matrix <= kStreamingMaxItems && codes_of(up) == codes_of(p.w) && up.rows == p.w.rows &&
         up.cols == p.w.cols && up.count == p.w.count && up.group_size == p.w.group_size &&
         up.scale_type == p.w.scale_type;
}

void linear_swiglu(const LinearProblem& p, const Matrix& up, const float* up_bias, float limit, float alpha,
                   cudaStream_t stream, StreamingKernel kernel) {
  check_problem(p);
  if (!can_gate(p, up)) throw Error("cuda linear_swiglu: gate and up differ in shape or format, or too many items");
  if (p.items == 0 || p.w.rows == 0) return;
  const Gate gate{up, up_bias, limit, alpha};
  run_streaming(one_problem(p), &gate, kernel, stream);
}

bool can_stream_together(std::span<const LinearProblem> problems) {
  if (problems.empty() || problems.size() > static_cast<size_t>(kMaxSharedInputProducts)) return false;
  const LinearProblem& p = problems.front();
  return std::all_of(problems.begin(), problems.end(), [&](const LinearProblem& q) {
    return codes_of(q.w) == codes_of(p.w) && q.w.cols == p.w.cols && q.x == p.x && q.x_stride == p.x_stride &&
           q.items == p.items && q.max_items_per_matrix <= kStreamingMaxItems && matrices_of(q) == 1 &&
           q.offsets == nullptr && q.matrix_list == nullptr && q.x_rows == nullptr && q.w.rows > 0;
  });
}

void linear_streaming(std::span<const LinearProblem> problems, cudaStream_t stream, StreamingKernel kernel) {
  if (!can_stream_together(problems))
    throw Error("cuda linear_streaming: the products differ in inputs or format, or are too many for one launch");
  for (const LinearProblem& p : problems) check_problem(p);
  const StreamingProblems launched = gathered(problems);
  if (launched.problem[0].items == 0) return;
  run_streaming(launched, nullptr, kernel, stream);
}

bool can_stream_row_tiles(std::span<const LinearProblem> problems, const Matrix* up) {
  if (problems.empty() || problems.size() > static_cast<size_t>(kMaxSharedInputProducts)) return false;
  const Gate gate{up != nullptr ? *up : Matrix{}, nullptr, 0.f, 0.f};
  return row_tiles_apply(gathered(problems), up != nullptr ? &gate : nullptr);
}

void linear_tiled(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  check_problem(p);
  if (p.norm.weight != nullptr) throw Error("cuda linear: the tiled product does not normalize its inputs");
  if (p.items == 0 || p.w.rows == 0) return;
  with_codes(p.w, [&]<Codes C>() { launch_tiled<C>(p, precision, stream); });
}

void linear(const LinearProblem& p, Precision precision, cudaStream_t stream) {
  if (p.max_items_per_matrix <= kStreamingMaxItems)
    linear_streaming(p, stream);
  else
    linear_tiled(p, precision, stream);
}

}  // namespace gptoss::cuda
