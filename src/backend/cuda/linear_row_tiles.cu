// The streaming products for one or two items per matrix (decode), weights streamed through
// shared memory a tile of rows at a time (row_tiles.cuh).
//
// Why not the register-streaming kernel (linear.cu)? It keeps at most a few chunks per lane in
// flight, ~20 KB per multiprocessor, and decode ran at a quarter of the memory bandwidth,
// stalled on loads. Here one thread per block issues bulk copies of whole tiles, several tiles
// in flight (tens of KB a block, in no registers), and the warps decode from shared memory,
// where loads return in tens of cycles.
//
// A warp takes a unit of two rows dotted with the same inputs: gate and up (gated), or two
// consecutive rows, so that each staged input read from shared memory serves two rows (reading
// the inputs is most of the shared-memory traffic).
#include "backend/cuda/linear_row_tiles.cuh"

#include <algorithm>
#include <cstdlib>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/row_tiles.cuh"
#include "backend/cuda/streaming_dot.cuh"

namespace gptoss::cuda {

namespace {

// Warps a block: one item's kernels fit 24 (≤ 85 registers a thread, no spills: more warps to
// hide the shared-memory and FMA latencies with), two items' 16.
constexpr int tile_warps(int items) { return items == 1 ? 24 : 16; }

struct TilePlans {
  RowTiles plan[kMaxSharedInputProducts];
};

// Stage bookkeeping of a block's ring of tiles. Warps do not wait for each other between
// tiles: each takes units (global numbering over the block's tiles) w, w + warps, …, from
// whichever tile holds them, and the warp finishing a tile's last unit refills its stage.
struct Ring {
  uint64_t landed[kMaxTileStages];  // completes when the stage's tile has landed
  int issued[kMaxTileStages];       // the tile last issued into the stage (−1: none yet)
  int consumed[kMaxTileStages];     // the stage's units done
};

// Waits until stage s holds local tile i. A parity wait alone could pass on an older phase
// (a warp may run more than a ring ahead of the slowest tile); once tile i was issued, tile
// i − stages has landed and been consumed, so the parity names tile i's phase.
__device__ __forceinline__ void wait_for_tile(Ring& ring, int s, int i, int stages) {
  while (*static_cast<volatile int*>(&ring.issued[s]) < i) __nanosleep(64);
  barrier_wait(&ring.landed[s], static_cast<uint32_t>(i / stages) & 1u);
}

template <Codes C, int kItems, bool kGated>
__global__ void __launch_bounds__(tile_warps(kItems) * 32, 1)
    row_tiles_kernel(StreamingProblems problems, TilePlans plans, Gate gate) {
  extern __shared__ float4 shared4[];
  __shared__ float fp4_table[16];
  __shared__ Ring ring;
  const auto [index, block, blocks] = share_of_block(problems);
  const LinearProblem& p = problems.problem[index];
  const RowTiles& tiles = plans.plan[index];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int chunks = static_cast<int>(p.w.cols / 32);
  const int64_t tile_count = (p.w.rows + tiles.tile_rows - 1) / tiles.tile_rows;
  const int64_t first_tile = tile_count * block / blocks;
  const int my_tiles = static_cast<int>(tile_count * (block + 1) / blocks - first_tile);
  uint8_t* stages = reinterpret_cast<uint8_t*>(shared4);
  float* xs = reinterpret_cast<float*>(stages + tiles.stages * tiles.stage_bytes);
  if (threadIdx.x == 0)
    for (int s = 0; s < tiles.stages; ++s) {
      barrier_init(&ring.landed[s]);
      ring.issued[s] = -1;
      ring.consumed[s] = 0;
    }
  __syncthreads();
  const auto rows_of_tile = [&](int i) {
    return static_cast<int>(min(static_cast<int64_t>(tiles.tile_rows), p.w.rows - (first_tile + i) * tiles.tile_rows));
  };
  const auto units_of = [](int rows) { return kGated ? rows : (rows + 1) / 2; };
  const auto issue = [&](int i, int64_t matrix) {  // local tile i into its stage
    const int s = i % tiles.stages;
    *static_cast<volatile int*>(&ring.issued[s]) = i;
    issue_tile(tiles, matrix, (first_tile + i) * tiles.tile_rows, rows_of_tile(i), stages + s * tiles.stage_bytes,
               &ring.landed[s]);
  };
  const auto issue_first = [&](int64_t matrix) {
    if (threadIdx.x == 0)
      for (int i = 0; i < min(tiles.stages, my_tiles); ++i) issue(i, matrix);
  };
  // A dense problem's weights are known before its inputs: its first tiles are copied while the
  // previous kernel finishes; a stack's matrix comes from the list the routing wrote.
  const bool listed = p.matrix_list != nullptr || p.offsets != nullptr;
  if (!listed) issue_first(blockIdx.y);
  wait_then_start_next();
  int first, count;
  const int matrix = group_items(p, static_cast<int>(blockIdx.y), first, count);
  if (count <= 0) return;  // (listed: nothing was issued)
  if (listed) issue_first(matrix);
  if (threadIdx.x < 16) fp4_table[threadIdx.x] = fp4_value(static_cast<int>(threadIdx.x));

  // The items' inputs (count ≤ kItems: one pass), normalized if asked.
  constexpr bool kAffine = C >= Codes::affine2;
  const auto input_row = [&](int item) { return x_row_of(p, first + item); };
  stage_inputs<kAffine>(p.x, p.x_stride, input_row, count, kItems, chunks, xs);
  __syncthreads();
  if (p.norm.weight != nullptr) {
    const bool writes = blockIdx.x == 0 && blockIdx.y == 0;  // hands the normalized rows on
    normalize_staged<kAffine>(xs, count, kItems, chunks, p.norm.weight, p.norm.eps, writes ? p.norm.normed : nullptr,
                              input_row);
    __syncthreads();
  }
  const float* sums = chunk_sums_of(xs, kItems, chunks);
  const float* const staged[2] = {xs, xs};
  const float* const staged_sums[2] = {sums, sums};
  const auto bias_of = [&](const float* bias, int64_t row) {
    return bias == nullptr ? 0.f : bias[static_cast<int64_t>(matrix) * p.w.rows + row];
  };

  // Every tile but the last has tile_units units.
  const int tile_units = units_of(tiles.tile_rows);
  const int total_units = my_tiles == 0 ? 0 : (my_tiles - 1) * tile_units + units_of(rows_of_tile(my_tiles - 1));
  for (int unit = warp; unit < total_units; unit += tile_warps(kItems)) {
    const int i = unit / tile_units, u = unit % tile_units, s = i % tiles.stages;
    wait_for_tile(ring, s, i, tiles.stages);
    const uint8_t* stage = stages + s * tiles.stage_bytes;
    const int64_t t0 = (first_tile + i) * tiles.tile_rows;
    const int n = rows_of_tile(i);
    // Gated: gate and up row u; else rows 2u and 2u + 1 (the last tile's last unit may have one).
    const int a = kGated ? u : 2 * u, b = kGated ? u : min(2 * u + 1, n - 1);
    const RowPointers rows[2] = {tile_row(tiles, stage, 0, a), tile_row(tiles, stage, kGated ? 1 : 0, b)};
    float acc[2][kItems] = {};
    for (int base = 0; base < chunks; base += 32) {  // a chunk a lane: shared memory is near
      Round<C, 2, 1> round;
      load_round<C, 2>(p.w, rows, base, lane, chunks, round);
      dot_round<C, 2, kItems>(round, staged, staged_sums, base, lane, chunks, fp4_table, acc);
    }
#pragma unroll
    for (int it = 0; it < kItems; ++it) {
      if (it >= count) break;  // the same across the warp
      const float va = warp_sum(acc[0][it]) + bias_of(p.bias, t0 + a);
      const float vb = warp_sum(acc[1][it]);
      const int64_t out = static_cast<int64_t>(first + it) * p.y_stride + t0;
      if (lane != 0) continue;
      if constexpr (kGated) {
        store_output(p, out + a, clamped_swiglu(va, vb + bias_of(gate.up_bias, t0 + a), gate.limit, gate.alpha));
      } else {
        store_output(p, out + a, va);
        if (b != a) store_output(p, out + b, vb + bias_of(p.bias, t0 + b));
      }
    }
    // The sums above read all of the warp's weights: the unit's rows are free for the refill.
    if (lane == 0 && atomicAdd(&ring.consumed[s], 1) + 1 == units_of(n)) {
      ring.consumed[s] = 0;
      __threadfence_block();  // the count is reset before the refill can be seen
      if (i + tiles.stages < my_tiles) issue(i + tiles.stages, matrix);
    }
  }
}

// Shared memory the tiles may take: GPTOSS_CUDA_ROW_TILES_KB (0: this kernel is not used).
int64_t tile_budget_bytes() {
  static const int64_t budget = [] {
    const char* v = std::getenv("GPTOSS_CUDA_ROW_TILES_KB");
    return (v == nullptr ? 192 : std::atoll(v)) * 1024;
  }();
  return budget;
}

// Tiles a block's budget is cut into: GPTOSS_CUDA_ROW_TILE_STAGES (smaller tiles start sooner
// and free their stage sooner; each costs a few copies and a barrier). H200, MLX q5 decode:
// 2 stages 374.9 tok/s, 4 383.8, 8 370.9, 12 361.0, 16 357.1.
int target_stages() {
  static const int stages = [] {
    const char* v = std::getenv("GPTOSS_CUDA_ROW_TILE_STAGES");
    return v == nullptr ? 4 : std::clamp(std::atoi(v), 2, kMaxTileStages);
  }();
  return stages;
}

constexpr int64_t kSharedLimit = 200 * 1024;  // the kernels' dynamic shared memory ceiling

template <Codes C, int kItems, bool kGated>
void launch_row_tiles(StreamingProblems problems, const TilePlans& plans, const Gate& gate, cudaStream_t stream) {
  static const bool raised = [] {
    cuda_check(cudaFuncSetAttribute(row_tiles_kernel<C, kItems, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    kSharedLimit),
               "raising the row-tile product's shared memory limit");
    return true;
  }();
  (void)raised;
  int64_t shared = 0;
  for (int i = 0; i < problems.count; ++i) shared = std::max<int64_t>(shared, plans.plan[i].stages * plans.plan[i].stage_bytes);
  shared += staged_floats(kItems, problems.problem[0].w.cols / 32) * static_cast<int64_t>(sizeof(float));
  const dim3 grid = streaming_grid(problems, [&](const LinearProblem& q) {
    const int i = static_cast<int>(&q - problems.problem);
    return (q.w.rows + plans.plan[i].tile_rows - 1) / plans.plan[i].tile_rows;
  });
  launch(row_tiles_kernel<C, kItems, kGated>, grid, dim3(tile_warps(kItems) * 32), static_cast<size_t>(shared), stream,
         "row-tile linear kernel", problems, plans, gate);
}

// The problems' tile plans, or false.
bool plan_problems(const StreamingProblems& problems, const Gate* gate, TilePlans& plans) {
  const int items = std::max(problems.problem[0].max_items_per_matrix, 1);
  // Dense rows stay with the registers' kernel: their 16 or 32 words a chunk would be
  // bank-conflicted reads of shared memory, and a tile holds few of their long rows.
  if (items > 2 || tile_budget_bytes() <= 0 || codes_of(problems.problem[0].w) < Codes::mxfp4 ||
      compute_capability() < 90)
    return false;
  const int64_t x_bytes = staged_floats(2, problems.problem[0].w.cols / 32) * static_cast<int64_t>(sizeof(float));
  const int64_t budget = std::min(tile_budget_bytes(), kSharedLimit - x_bytes);
  for (int i = 0; i < problems.count; ++i) {
    // Sized on the problem's share of the multiprocessors (streaming_grid's).
    const LinearProblem& p = problems.problem[i];
    const int64_t blocks = wanted_blocks(problems, i);
    plans.plan[i] = plan_row_tiles(p.w, gate != nullptr ? &gate->up : nullptr, (p.w.rows + blocks - 1) / blocks,
                                   budget, target_stages());
    if (plans.plan[i].tile_rows == 0) return false;
  }
  return true;
}

}  // namespace

bool row_tiles_apply(const StreamingProblems& problems, const Gate* gate) {
  TilePlans plans;
  return plan_problems(problems, gate, plans);
}

bool stream_row_tiles(const StreamingProblems& problems, const Gate* gate, cudaStream_t stream) {
  TilePlans plans;
  if (!plan_problems(problems, gate, plans)) return false;
  const int items = std::max(problems.problem[0].max_items_per_matrix, 1);
  with_codes(problems.problem[0].w, [&]<Codes C>() {
    if constexpr (C >= Codes::mxfp4) {  // (dense formats are excluded above)
      const Gate g = gate != nullptr ? *gate : Gate{};
      if (gate != nullptr) {
        if (items == 1) launch_row_tiles<C, 1, true>(problems, plans, g, stream);
        else launch_row_tiles<C, 2, true>(problems, plans, g, stream);
      } else {
        if (items == 1) launch_row_tiles<C, 1, false>(problems, plans, g, stream);
        else launch_row_tiles<C, 2, false>(problems, plans, g, stream);
      }
    }
  });
  return true;
}

}  // namespace gptoss::cuda
