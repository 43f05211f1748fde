#include "backend/cuda/attention.cuh"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/rope.cuh"
#include "backend/cuda/device_info.h"
#include "backend/kv_blocks.h"
#include "gptoss/error.h"

namespace gptoss {

namespace {

constexpr int kTile = 64;           // keys per step of a split
constexpr int kThreads = 128;       // per block of the split kernel
constexpr int kMaxOutputs = 16;     // outputs (query head × dim) each thread accumulates
constexpr int kScoreChains = 4;     // scores a thread computes at once
constexpr int kTargetBlocksPerSm = 2;  // (row, kv head, split) blocks per SM: fewer rows split their keys more
constexpr int kMaxSplits = 64;
constexpr size_t kMaxSharedBytes = 48 * 1024;

// What the split kernel needs besides the batch; group = query heads per kv head.
struct Shape {
  int heads, kv_heads, head_dim, group, window, splits;
  float scale;
  int64_t kv_width;
  int block_tokens, kv_group;
};

size_t shared_bytes(int group, int head_dim) {
  return sizeof(float) * static_cast<size_t>(group * head_dim + kTile * (head_dim + 1) + group * kTile + 3 * group);
}

int split_count(const DeviceBatch& batch, const AttentionParameters& p) {
  // The context's power-of-two bucket, not the context itself: a recorded graph is replayed for
  // every position in the bucket, so its grid must not change within one.
  auto keys = static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(batch.max_position) + 1));
  if (p.window > 0) keys = std::min<int64_t>(keys, p.window);
  const int64_t tiles = (keys + kTile - 1) / kTile;
  const int64_t items = std::max<int64_t>(1, static_cast<int64_t>(batch.rows) * p.kv_heads);
  const int64_t target = static_cast<int64_t>(kTargetBlocksPerSm) * cuda::multiprocessor_count();
  const int64_t wanted = (target + items - 1) / items;
  return static_cast<int>(std::clamp<int64_t>(std::min(tiles, wanted), 1, kMaxSplits));
}

// f32 → bf16 bits, round to nearest even, NaN kept quiet: float_formats.h's f32_to_bf16.
__device__ __forceinline__ uint16_t to_bf16_bits(float value) {
  uint32_t u = __float_as_uint(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

__device__ __forceinline__ const int32_t* table_of(const DeviceBatch& batch, int sequence, int kv_group) {
  return batch.block_tables + batch.table_offset[sequence * kMaxKvGroups + kv_group];
}

// Index of position j's kv head 0 in the cache, in elements.
__device__ __forceinline__ int64_t cache_index(const int32_t* table, int j, int block_tokens, int64_t kv_width) {
  return (static_cast<int64_t>(table[j / block_tokens]) * block_tokens + j % block_tokens) * kv_width;
}

// Block per row: with `rotate`, RoPE of the row's queries (q_heads) and keys in place first (the
// angles computed before the PDL wait, as rope_kernel does); then the row's key and value into
// the cache.
template <bool kBf16>
__global__ void store_kv_kernel(float* q, int q_heads, float* k, const float* v, DeviceBatch batch, void* keys,
                                void* values, int block_tokens, int64_t kv_width, int kv_group, int head_dim,
                                cuda::RopeTable rope, bool rotate) {
  __shared__ float cosines[cuda::kMaxHeadDim / 2], sines[cuda::kMaxHeadDim / 2];
  const int row = static_cast<int>(blockIdx.x), half = head_dim / 2;
  if (rotate) cuda::rope_angles(__ldcg(batch.positions + row), rope, half, cosines, sines);
  cuda::wait_then_start_next();
  if (rotate) {
    __syncthreads();
    const int heads = q_heads + static_cast<int>(kv_width / head_dim);
    for (int index = static_cast<int>(threadIdx.x); index < heads * half; index += blockDim.x) {
      const int head = index / half, i = index % half;
      float* x = head < q_heads ? q + (static_cast<int64_t>(row) * q_heads + head) * head_dim
                                : k + row * kv_width + (head - q_heads) * head_dim;
      cuda::rotate_pair(x, i, half, cosines[i], sines[i]);
    }
    __syncthreads();  // the row's rotated keys, written by other threads, are read below
  }
  const int32_t* table = table_of(batch, batch.row_sequence[row], kv_group);
  const int64_t at = cache_index(table, batch.positions[row], block_tokens, kv_width);
  for (int64_t c = threadIdx.x; c < kv_width; c += blockDim.x) {
    const float key = k[row * kv_width + c], value = v[row * kv_width + c];
    if constexpr (kBf16) {
      static_cast<uint16_t*>(keys)[at + c] = to_bf16_bits(key);
      static_cast<uint16_t*>(values)[at + c] = to_bf16_bits(value);
    } else {
      static_cast<float*>(keys)[at + c] = key;
      static_cast<float*>(values)[at + c] = value;
    }
  }
}

// Copies keys [first, first + count) of one kv head into `tile` ([kTile, head_dim + 1] floats;
// the padding column keeps the score loop's reads, a key per lane, off one bank).
template <bool kBf16>
__device__ __forceinline__ void load_tile(const void* cache, const int32_t* table, int first, int count,
                                          const Shape& s, int kv_head, float* tile) {
  const int d = s.head_dim;
  constexpr int kPerVector = kBf16 ? 8 : 4;  // 16-byte loads
  const int vectors = d / kPerVector;
  for (int i = static_cast<int>(threadIdx.x); i < count * vectors; i += kThreads) {
    const int t = i / vectors, c = (i % vectors) * kPerVector;
    const int64_t at = cache_index(table, first + t, s.block_tokens, s.kv_width) + static_cast<int64_t>(kv_head) * d + c;
    float* dst = tile + t * (d + 1) + c;
    if constexpr (kBf16) {
      const uint4 raw = *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(cache) + at);
      const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        dst[2 * w] = __uint_as_float(words[w] << 16);
        dst[2 * w + 1] = __uint_as_float(words[w] & 0xFFFF0000u);
      }
    } else {
      const float4 raw = *reinterpret_cast<const float4*>(static_cast<const float*>(cache) + at);
      dst[0] = raw.x, dst[1] = raw.y, dst[2] = raw.z, dst[3] = raw.w;
    }
  }
}

// Block (row · kv_heads + kv head, split): the split's share of the row's keys, a kTile at a
// time, for the kv head's `group` query heads at once (they share every key and value read).
// Writes, per query head, the split's running max m, sum l = Σ exp(s_j − m) and unnormalized
// output Σ exp(s_j − m) v_j; an empty split writes m = −∞, l = 0, output 0.
template <bool kBf16>
__global__ void __launch_bounds__(kThreads) attention_split_kernel(const float* q, DeviceBatch batch, const void* keys,
                                                                   const void* values, Shape s, float* partial_out,
                                                                   float* partial_max, float* partial_sum) {
  cuda::wait_then_start_next();
  extern __shared__ float shared[];
  const int d = s.head_dim, g_count = s.group;
  float* q_group = shared;                         // [group, d]
  float* tile = q_group + g_count * d;             // [kTile, d + 1]
  float* probabilities = tile + kTile * (d + 1);   // [group, kTile]
  float* running_max = probabilities + g_count * kTile;
  float* running_sum = running_max + g_count;
  float* rescale = running_sum + g_count;

  const int row = static_cast<int>(blockIdx.x) / s.kv_heads, kv_head = static_cast<int>(blockIdx.x) % s.kv_heads;
  const int split = static_cast<int>(blockIdx.y);
  const int position = batch.positions[row];
  const int first_key = s.window > 0 ? max(0, position - s.window + 1) : 0;
  const int keys_total = position - first_key + 1;
  // Whole tiles per split, so that only the last tile of the row is partial.
  const int per_split = ((keys_total + s.splits - 1) / s.splits + kTile - 1) / kTile * kTile;
  const int begin = first_key + split * per_split;
  const int end = min(position + 1, begin + per_split);
  const int32_t* table = table_of(batch, batch.row_sequence[row], s.kv_group);

  const float* q_row = q + (static_cast<int64_t>(row) * s.heads + kv_head * g_count) * d;
  for (int i = static_cast<int>(threadIdx.x); i < g_count * d; i += kThreads) q_group[i] = q_row[i];
  for (int g = static_cast<int>(threadIdx.x); g < g_count; g += kThreads) {
    running_max[g] = -INFINITY;
    running_sum[g] = 0.f;
  }
  float acc[kMaxOutputs];
#pragma unroll
  for (int k = 0; k < kMaxOutputs; ++k) acc[k] = 0.f;

  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  for (int first = begin; first < end; first += kTile) {
    const int count = min(kTile, end - first);
    __syncthreads();  // the previous step's values are no longer read
    load_tile<kBf16>(keys, table, first, count, s, kv_head, tile);
    __syncthreads();
    // Scores, kScoreChains (query head, key) pairs per thread at once: independent FMA chains.
    for (int i0 = static_cast<int>(threadIdx.x); i0 < g_count * kTile; i0 += kScoreChains * kThreads) {
      int q_at[kScoreChains], key_at[kScoreChains];
      float dot[kScoreChains];
#pragma unroll
      for (int j = 0; j < kScoreChains; ++j) {
        const int i = min(i0 + j * kThreads, g_count * kTile - 1);
        q_at[j] = (i / kTile) * d;
        key_at[j] = (i % kTile) * (d + 1);
        dot[j] = 0.f;
      }
      for (int c = 0; c < d; ++c)
#pragma unroll
        for (int j = 0; j < kScoreChains; ++j) dot[j] = fmaf(q_group[q_at[j] + c], tile[key_at[j] + c], dot[j]);
#pragma unroll
      for (int j = 0; j < kScoreChains; ++j) {
        const int i = i0 + j * kThreads;
        if (i < g_count * kTile) probabilities[i] = i % kTile < count ? dot[j] * s.scale : -INFINITY;
      }
    }
    __syncthreads();
    // Online softmax, a warp per query head: new max, rescale of what came before, exp.
    for (int g = warp; g < g_count; g += kThreads / 32) {
      float* p = probabilities + g * kTile;
      float tile_max = fmaxf(p[lane], p[lane + 32]);
      for (int o = 16; o > 0; o /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xFFFFFFFFu, tile_max, o));
      const float old_max = running_max[g];
      const float new_max = fmaxf(old_max, tile_max);
      const float e0 = lane < count ? expf(p[lane] - new_max) : 0.f;
      const float e1 = lane + 32 < count ? expf(p[lane + 32] - new_max) : 0.f;
      p[lane] = e0;
      p[lane + 32] = e1;
      float sum = e0 + e1;
      for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, o);
      if (lane == 0) {
        const float factor = expf(old_max - new_max);  // 0 on the first tile (old_max = −∞)
        rescale[g] = factor;
        running_sum[g] = running_sum[g] * factor + sum;
        running_max[g] = new_max;
      }
    }
    load_tile<kBf16>(values, table, first, count, s, kv_head, tile);  // the keys were read above
    __syncthreads();
    // Each output's sum over the tile's keys in order; the thread's outputs are independent
    // chains, interleaved.
    // (A thread's outputs are its first `mine` slots: the loop stops there rather than issue
    // predicated-off FMAs for the rest.)
    const int mine = (g_count * d - static_cast<int>(threadIdx.x) + kThreads - 1) / kThreads;
    int p_at[kMaxOutputs], value_at[kMaxOutputs];  // offsets: 32-bit, to spare registers
#pragma unroll
    for (int k = 0; k < kMaxOutputs; ++k) {
      const int o = min(static_cast<int>(threadIdx.x) + k * kThreads, g_count * d - 1);
      p_at[k] = (o / d) * kTile;
      value_at[k] = o % d;
      acc[k] *= rescale[o / d];
    }
    for (int t = 0; t < count; ++t)
#pragma unroll
      for (int k = 0; k < kMaxOutputs; ++k) {
        if (k >= mine) break;
        acc[k] = fmaf(probabilities[p_at[k] + t], tile[t * (d + 1) + value_at[k]], acc[k]);
      }
  }
  __syncthreads();
  const int64_t head0 = static_cast<int64_t>(row) * s.heads + kv_head * g_count;
#pragma unroll
  for (int k = 0; k < kMaxOutputs; ++k) {
    const int o = static_cast<int>(threadIdx.x) + k * kThreads;
    if (o >= g_count * d) break;
    const int g = o / d, c = o % d;
    partial_out[((head0 + g) * s.splits + split) * d + c] = acc[k];
  }
  for (int g = static_cast<int>(threadIdx.x); g < g_count; g += kThreads) {
    partial_max[(head0 + g) * s.splits + split] = running_max[g];
    partial_sum[(head0 + g) * s.splits + split] = running_sum[g];
  }
}

// Block (row · heads + head), a thread per dimension: merges the splits and the sink,
//   M = max(sink, m_s),  Z = exp(sink − M) + Σ_s l_s exp(m_s − M),  out = Σ_s o_s exp(m_s − M) / Z.
__global__ void attention_merge_kernel(const float* partial_out, const float* partial_max, const float* partial_sum,
                                       const float* sinks, int heads, int head_dim, int splits, float* out) {
  cuda::wait_then_start_next();
  const int64_t head_row = blockIdx.x;
  const float sink = sinks[head_row % heads];
  const float* m = partial_max + head_row * splits;
  const float* l = partial_sum + head_row * splits;
  float top = sink;
  for (int i = 0; i < splits; ++i) top = fmaxf(top, m[i]);
  float z = expf(sink - top);
  float sum = 0.f;
  const int c = static_cast<int>(threadIdx.x);
  for (int i = 0; i < splits; ++i) {
    const float w = expf(m[i] - top);  // 0 for an empty split
    z = fmaf(l[i], w, z);
    sum = fmaf(partial_out[(head_row * splits + i) * head_dim + c], w, sum);
  }
  out[head_row * head_dim + c] = sum / z;
}

}  // namespace

void check_cuda_attention(const BatchLayout& layout, const KvLayerView& cache, const AttentionParameters& params) {
  check_kv_view(cache, "attention");
  check_attention_shape(params, cache);
  const int group = params.heads / params.kv_heads;
  if (group * params.head_dim > kMaxOutputs * kThreads || params.head_dim > 1024 ||
      shared_bytes(group, params.head_dim) > kMaxSharedBytes)
    throw Error("cuda attention: " + std::to_string(group) + " query heads per kv head of dimension " +
                std::to_string(params.head_dim) + " are more than the kernel holds");
  check_attended_blocks(layout, cache, params.window, "attention");
}

void cuda_store_kv(float* q, int q_heads, float* k, const float* v, const DeviceBatch& batch, const KvLayerView& cache,
                   int head_dim, const cuda::RopeTable* rope, cudaStream_t stream) {
  if (batch.rows == 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(256, (cache.kv_width + 31) / 32 * 32));
  cuda::launch(cache.dtype == ElementType::bf16 ? store_kv_kernel<true> : store_kv_kernel<false>, dim3(batch.rows),
               dim3(threads), 0, stream, "store_kv kernel", q, q_heads, k, v, batch, cache.keys, cache.values,
               cache.block_tokens, cache.kv_width, cache.group, head_dim, rope != nullptr ? *rope : cuda::RopeTable{},
               rope != nullptr);
}

size_t cuda_attention_scratch_bytes(const DeviceBatch& batch, const AttentionParameters& params) {
  const auto partials = static_cast<size_t>(batch.rows) * static_cast<size_t>(params.heads) *
                        static_cast<size_t>(split_count(batch, params));
  return sizeof(float) * partials * (static_cast<size_t>(params.head_dim) + 2);
}

void cuda_attention(const float* q, const DeviceBatch& batch, const KvLayerView& cache,
                    const AttentionParameters& params, float* out, void* scratch, cudaStream_t stream) {
  if (batch.rows == 0) return;
  Shape s{};
  s.heads = params.heads;
  s.kv_heads = params.kv_heads;
  s.head_dim = params.head_dim;
  s.group = params.heads / params.kv_heads;
  s.window = params.window;
  s.splits = split_count(batch, params);
  s.scale = params.scale;
  s.kv_width = cache.kv_width;
  s.block_tokens = cache.block_tokens;
  s.kv_group = cache.group;
  const size_t partials = static_cast<size_t>(batch.rows) * static_cast<size_t>(s.heads) * static_cast<size_t>(s.splits);
  auto* partial_out = static_cast<float*>(scratch);
  float* partial_max = partial_out + partials * static_cast<size_t>(s.head_dim);
  float* partial_sum = partial_max + partials;
  const dim3 grid(static_cast<unsigned>(batch.rows * s.kv_heads), static_cast<unsigned>(s.splits));
  const size_t shared = shared_bytes(s.group, s.head_dim);
  cuda::launch(cache.dtype == ElementType::bf16 ? attention_split_kernel<true> : attention_split_kernel<false>, grid,
               dim3(kThreads), shared, stream, "attention kernel", q, batch, cache.keys, cache.values, s, partial_out,
               partial_max, partial_sum);
  cuda::launch(attention_merge_kernel, dim3(static_cast<unsigned>(batch.rows * s.heads)), dim3(s.head_dim), 0, stream,
               "attention merge kernel", partial_out, partial_max, partial_sum, params.sinks.data, s.heads, s.head_dim,
               s.splits, out);
}

}  // namespace gptoss
