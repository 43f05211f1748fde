// The pieces of the streaming (decode) products: inputs staged in shared memory, and a warp's
// dot products of a few weight rows with a few staged inputs, each row's bytes read once. The
// products of linear.cu and the experts' down kernel (expert_down.cu) are built of them.
//
// Decode is latency- and instruction-bound, so the inner loop is lean: a lane loads several
// chunks before decoding any (bytes in flight), and affine codes are decoded in two integer
// instructions into m = 1 + q/2^b (the code placed under the exponent of 1.0f), so that
//   Σ_i (s·q_i + b)·x_i = s·2^b·Σ_i m_i·x_i + (b − s·2^b)·Σ_i x_i,
// one FMA per weight, with the chunk's Σ x_i staged beside the inputs.
#pragma once

#include "backend/cuda/weight_chunk.cuh"

namespace gptoss::cuda {

// Each 32-input chunk is padded to 36 floats in shared memory, so that the 16-byte reads of a
// quarter warp (8 lanes at chunk stride) fall in distinct banks.
inline constexpr int kPaddedChunk = 36;

// Shared floats for `capacity` staged inputs of `chunks` chunks: the inputs, then one sum per
// chunk (the affine formats' offset term Σ x_i).
__host__ __device__ constexpr int64_t staged_floats(int capacity, int64_t chunks) {
  return capacity * chunks * (kPaddedChunk + 1);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  return v;
}

// Eight consecutive lanes hold a 32-input chunk as a float4 each: adds it up by shuffles (every
// lane of the warp calls it) and stores the sum where `first` (the chunk's first lane) says.
__device__ __forceinline__ void store_chunk_sum(float4 v, bool first, float* sum_at) {
  float sum = (v.x + v.y) + (v.z + v.w);
  sum += __shfl_xor_sync(0xFFFFFFFFu, sum, 1);
  sum += __shfl_xor_sync(0xFFFFFFFFu, sum, 2);
  sum += __shfl_xor_sync(0xFFFFFFFFu, sum, 4);
  if (first) *sum_at = sum;
}

// Copies the inputs input_row(i), i < n ≤ capacity, each cols = 32·chunks floats at
// x + row·x_stride (16-byte aligned), into xs, and zeros for the inputs n … capacity − 1; for
// affine weights also each chunk's sum after the capacity's inputs. Eight consecutive lanes
// stage one chunk (a float4 each) and add it up by shuffles. The whole block calls it, between
// barriers.
template <bool kAffine, class InputRow>
__device__ __forceinline__ void stage_inputs(const float* x, int64_t x_stride, InputRow input_row, int n, int capacity,
                                             int chunks, float* xs) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int total = capacity * chunks * 8;
  float* chunk_sums = xs + static_cast<int64_t>(capacity) * chunks * kPaddedChunk;
  // Whole warps iterate together (the shuffles need every lane).
  for (int base = static_cast<int>(threadIdx.x) - lane; base < total; base += blockDim.x) {
    const int idx = base + lane;
    const bool valid = idx < total;
    const int item = idx / (chunks * 8), within = idx % (chunks * 8);
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (valid && item < n) v = *reinterpret_cast<const float4*>(x + input_row(item) * x_stride + within * 4);
    if (valid) *reinterpret_cast<float4*>(xs + (item * chunks + within / 8) * kPaddedChunk + (within % 8) * 4) = v;
    if constexpr (kAffine) store_chunk_sum(v, valid && within % 8 == 0, chunk_sums + item * chunks + within / 8);
  }
}

// RMSNorm of the n staged inputs in place (cols = 32·chunks each): x · inv_rms · weight, with
// inv_rms = 1 / sqrt(Σx²/cols + eps), Σx² in double, the same per-element formula as
// rmsnorm(); then their chunk sums again (affine). Writes the normalized input i to
// normed + output_row(i)·cols as well when `normed` is not null. The whole block calls it,
// between barriers, after stage_inputs.
template <bool kAffine, class OutputRow>
__device__ __forceinline__ void normalize_staged(float* xs, int n, int capacity, int chunks, const float* weight,
                                                 float eps, float* normed, OutputRow output_row) {
  constexpr int kMaxInputs = 8;
  __shared__ double partial[32][kMaxInputs];
  __shared__ float inv_rms[kMaxInputs];
  const int cols = chunks * 32, lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const auto at = [&](int item, int c) { return (item * chunks + c / 32) * kPaddedChunk + c % 32; };
  for (int item = 0; item < n; ++item) {
    double sum = 0;
    for (int c = static_cast<int>(threadIdx.x); c < cols; c += blockDim.x) {
      const double v = xs[at(item, c)];
      sum += v * v;
    }
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
    if (lane == 0) partial[warp][item] = sum;
  }
  __syncthreads();
  if (threadIdx.x < n) {
    double total = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += partial[w][threadIdx.x];
    inv_rms[threadIdx.x] = static_cast<float>(1.0 / sqrt(total / cols + eps));
  }
  __syncthreads();
  for (int e = static_cast<int>(threadIdx.x); e < n * cols; e += blockDim.x) {
    const int item = e / cols, c = e % cols;
    float& x = xs[at(item, c)];
    x = weight[c] * (x * inv_rms[item]);
    if (normed != nullptr) normed[output_row(item) * cols + c] = x;
  }
  if constexpr (kAffine) {
    __syncthreads();
    float* chunk_sums = xs + static_cast<int64_t>(capacity) * chunks * kPaddedChunk;
    for (int base = static_cast<int>(threadIdx.x) - lane; base < n * chunks * 8; base += blockDim.x) {
      const int idx = base + lane;
      const bool valid = idx < n * chunks * 8;
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (valid) v = *reinterpret_cast<const float4*>(xs + (idx / 8) * kPaddedChunk + (idx % 8) * 4);
      store_chunk_sum(v, valid && idx % 8 == 0, chunk_sums + idx / 8);
    }
  }
}

// Where stage_inputs put the chunk sums of xs staged with `capacity` inputs.
__device__ __forceinline__ const float* chunk_sums_of(const float* xs, int capacity, int chunks) {
  return xs + static_cast<int64_t>(capacity) * chunks * kPaddedChunk;
}

// (placed & field) | 1.0f's bits in one LOP3: written as PTX because ptxas, given two
// immediates, emits an AND and an OR — a third of the decode's instructions.
template <uint32_t kField>
__device__ __forceinline__ uint32_t under_one(uint32_t placed) {
  uint32_t out;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(out) : "r"(placed), "n"(kField), "r"(0x3F800000u));
  return out;
}

// One chunk for the streaming dot: Σ_i w_i x_i = scale·Σ_i m[i]·x_i + offset·Σ_i x_i. Dense
// and MXFP4 chunks have m = the weights (times the block's power of two in scale), offset 0.
template <Codes C>
__device__ __forceinline__ void decode_streaming(const RawChunk<C>& raw, const float* fp4_table, float (&m)[32],
                                                 float& scale, float& offset) {
  if constexpr (C >= Codes::affine2) {
    constexpr int kBits = affine_bits(C);
    constexpr int kAt = 23 - kBits;  // the code's place under 1.0f's exponent
    constexpr uint32_t kField = ((1u << kBits) - 1) << kAt;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int bit = i * kBits, word = bit >> 5, shift = bit & 31;
      uint32_t placed;
      if (shift + kBits > 32)  // the code straddles two words: a funnel shift joins them
        placed = __funnelshift_r(raw.words[word], raw.words[word + 1], shift - kAt);
      else if (shift <= kAt)
        placed = raw.words[word] << (kAt - shift);
      else
        placed = raw.words[word] >> (shift - kAt);
      m[i] = __uint_as_float(under_one<kField>(placed));
    }
    scale = raw.scale * static_cast<float>(1 << kBits);
    offset = raw.offset - scale;
  } else {
    Chunk chunk;
    decode_raw<C>(raw, fp4_table, chunk);
#pragma unroll
    for (int i = 0; i < 32; ++i) m[i] = chunk.q[i];
    scale = chunk.scale;
    offset = 0.f;
  }
}

// A round of a warp's dot products: each lane's next `kAhead` chunks (c = base + lane + 32·a) of
// kRows rows (of matrices shaped like w), loaded together before any is decoded. The walk below
// issues a round's loads before decoding the previous round, so about twice this many chunks
// per lane are in flight.
// Chunks a lane loads in one round, shared among its rows: as many as registers allow (packed
// chunks of up to 6 words: 4; 8-bit: 2; dense chunks' 16 or 32 words: 1).
template <Codes C, int kRows>
constexpr int chunks_ahead() {
  constexpr int kInFlight = chunk_words(C) <= 6 ? 4 : chunk_words(C) <= 8 ? 2 : 1;
  return kInFlight / kRows > 0 ? kInFlight / kRows : 1;
}

template <Codes C, int kRows, int kAhead = chunks_ahead<C, kRows>()>
struct Round {
  static constexpr int kChunks = 32 * kAhead;  // a warp's chunks per row per round
  RawChunk<C> raw[kAhead][kRows];
};

template <Codes C, int kRows, int kAhead>
__device__ __forceinline__ void load_round(const Matrix& w, const RowPointers (&rows)[kRows], int base, int lane,
                                           int chunks, Round<C, kRows, kAhead>& round) {
#pragma unroll
  for (int a = 0; a < kAhead; ++a)
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      if (base + lane + 32 * a < chunks) load_raw<C>(w, rows[r], base + lane + 32 * a, round.raw[a][r]);
}

// acc[r][it] += the round's share of row r · staged input it of xs[r] (xs[r] + it·chunks·
// kPaddedChunk, their chunk sums at sums[r] + it·chunks); warp_sum(acc[r][it]) after a row's
// last round is the dot product.
template <Codes C, int kRows, int kItems, int kAhead>
__device__ __forceinline__ void dot_round(const Round<C, kRows, kAhead>& round, const float* const (&xs)[kRows],
                                          const float* const (&sums)[kRows], int base, int lane, int chunks,
                                          const float* fp4_table, float (&acc)[kRows][kItems]) {
  constexpr bool kAffine = C >= Codes::affine2;
#pragma unroll
  for (int a = 0; a < kAhead; ++a) {
    const int c = base + lane + 32 * a;
    if (c >= chunks) break;
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float m[32], scale, offset;
      decode_streaming<C>(round.raw[a][r], fp4_table, m, scale, offset);
#pragma unroll
      for (int it = 0; it < kItems; ++it) {
        const float4* xc = reinterpret_cast<const float4*>(xs[r] + (it * chunks + c) * kPaddedChunk);
        float even = 0.f, odd = 0.f;  // two chains: half the FMA latency per chunk
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float4 v = xc[i];
          even = fmaf(v.x, m[4 * i], even);
          odd = fmaf(v.y, m[4 * i + 1], odd);
          even = fmaf(v.z, m[4 * i + 2], even);
          odd = fmaf(v.w, m[4 * i + 3], odd);
        }
        const float dot = even + odd;
        if constexpr (kAffine)
          acc[r][it] = fmaf(scale, dot, fmaf(offset, sums[r][it * chunks + c], acc[r][it]));
        else
          acc[r][it] = fmaf(scale, dot, acc[r][it]);
      }
    }
  }
}

// A warp's walk over its rows first, first + step, … < end: each row is kRows weight rows
// (rows_of(row, pointers) fills them), dotted with the staged inputs in rounds, the next round's
// loads (the next row's, across a row's end) in flight while the current one is decoded; then
// finish(row, acc) takes the row's sums (lane-partial: warp_sum them). `current` holds the
// first round, which the caller loads (load_first) early — before staging the inputs, or before
// waiting for the previous kernel — so that its latency hides behind them.
template <Codes C, int kRows, class RowsOf>
__device__ __forceinline__ void load_first(const Matrix& w, int64_t first, int64_t end, int lane, int chunks,
                                           RowsOf rows_of, Round<C, kRows>& current) {
  if (first >= end) return;
  RowPointers rows[kRows];
  rows_of(first, rows);
  load_round<C, kRows>(w, rows, 0, lane, chunks, current);
}

template <Codes C, int kRows, int kItems, class RowsOf, class Finish>
__device__ __forceinline__ void walk_rows(const Matrix& w, int64_t first, int64_t end, int step, int lane,
                                          int chunks, RowsOf rows_of, const float* const (&xs)[kRows],
                                          const float* const (&sums)[kRows], const float* fp4_table,
                                          Round<C, kRows>& current, Finish finish) {
  constexpr int kChunks = Round<C, kRows>::kChunks;
  float acc[kRows][kItems] = {};
  int64_t row = first;
  int base = 0;
  while (row < end) {
    int64_t next_row = row;
    int next_base = base + kChunks;
    if (next_base >= chunks) {
      next_row += step;
      next_base = 0;
    }
    Round<C, kRows> next;
    if (next_row < end) {
      RowPointers rows[kRows];
      rows_of(next_row, rows);
      load_round<C, kRows>(w, rows, next_base, lane, chunks, next);
    }
    dot_round<C, kRows, kItems>(current, xs, sums, base, lane, chunks, fp4_table, acc);
    if (next_row != row) {
      finish(row, acc);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int it = 0; it < kItems; ++it) acc[r][it] = 0.f;
    }
    current = next;
    row = next_row;
    base = next_base;
  }
}

// gpt-oss's clamped SwiGLU: (clamp(u, ±limit) + 1) · g · σ(alpha · g) with g = min(gate, limit)
// (the CPU's kernels_scalar.cpp swiglu).
__device__ __forceinline__ float clamped_swiglu(float gate, float up, float limit, float alpha) {
  const float g = fminf(gate, limit);
  const float u = fminf(fmaxf(up, -limit), limit);
  return (u + 1.f) * (g / (1.f + expf(-alpha * g)));
}

}  // namespace gptoss::cuda
