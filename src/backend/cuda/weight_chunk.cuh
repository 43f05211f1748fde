// Device-side decoding of weights, 32 consecutive inputs (one "chunk") of one row at a time,
// for every format a Matrix can hold (quant/matrix.h). The chunk is the unit of the CUDA
// products: 32 inputs are one E8M0 block of MXFP4 and a whole number of chunks make one
// affine group (group sizes 32, 64, 128).
//
// Affine codes are decoded as floats by the exponent trick: for an integer q < 2^23,
// as_float(0x4B000000 | q) = 2^23 + q exactly, so (as_float(…) − 2^23) is q without an
// int→float conversion (which runs at a quarter of the FMA rate). The group's scale and
// offset are applied per chunk, not per weight: Σ x_i (s q_i + b) = s Σ x_i q_i + b Σ x_i.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "quant/matrix.h"

namespace gptoss::cuda {

// The weight formats the kernels are instantiated for: a Matrix's format and, for affine, its
// width. Kernels take it as a template parameter so that each decode is straight-line code.
enum class Codes : int { f32, f16, bf16, mxfp4, affine2, affine3, affine4, affine5, affine6, affine8 };

// MLX's affine widths (2, 3, 4, 5, 6, 8 bits).
constexpr int affine_bits(Codes c) {
  return c == Codes::affine8 ? 8 : static_cast<int>(c) - static_cast<int>(Codes::affine2) + 2;
}

__device__ __forceinline__ float bf16_bits_to_float(uint32_t bits16) { return __uint_as_float(bits16 << 16); }

__device__ __forceinline__ float load_scale_value(ScaleType type, const uint8_t* base, int index) {
  switch (type) {
    case ScaleType::f32: return reinterpret_cast<const float*>(base)[index];
    case ScaleType::f16: return __half2float(reinterpret_cast<const __half*>(base)[index]);
    case ScaleType::bf16: return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(base)[index]);
    default: return 1.f;
  }
}

// The 16 E2M1 values (sign in bit 3), for a table in shared memory: lanes index it with
// different codes, which constant memory would serialize.
__device__ __forceinline__ float fp4_value(int code) {
  const float magnitude[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
  return (code & 8) ? -magnitude[code & 7] : magnitude[code & 7];
}

// Where one row's chunks live.
struct RowPointers {
  const uint8_t* codes;
  const uint8_t* scales;
  const uint8_t* biases;
};

__device__ __forceinline__ RowPointers row_pointers(const Matrix& w, int64_t matrix, int64_t row) {
  return {w.weight + matrix * w.weight_matrix_stride + row * w.weight_row_stride,
          w.scales == nullptr ? nullptr : w.scales + matrix * w.scale_matrix_stride + row * w.scale_row_stride,
          w.biases == nullptr ? nullptr : w.biases + matrix * w.scale_matrix_stride + row * w.scale_row_stride};
}

// One chunk decoded as v[i] = a·q[i] + (b), i < 32: for dense and MXFP4 formats q is the
// weight itself (a = 1, b = 0, or a = the block's power of two); for affine formats q is the
// raw code and (a, b) the group's scale and offset.
struct Chunk {
  float q[32];
  float scale;
  float offset;
};

// Words of one chunk's codes as stored: f32 32, f16/bf16 16, mxfp4 4, affine `bits`.
constexpr int chunk_words(Codes c) {
  return c == Codes::f32 ? 32 : (c == Codes::f16 || c == Codes::bf16) ? 16 : c == Codes::mxfp4 ? 4 : affine_bits(c);
}

// One chunk as loaded from memory, not yet decoded: loading several chunks before decoding any
// keeps several loads in flight per thread (the streaming products are latency-bound).
template <Codes C>
struct RawChunk {
  uint32_t words[chunk_words(C)];
  float scale;   // affine: the group's scale; mxfp4: the block's power of two
  float offset;  // affine: the group's offset
};

template <Codes C>
__device__ __forceinline__ void load_raw(const Matrix& w, const RowPointers& row, int chunk, RawChunk<C>& raw) {
  constexpr int kWords = chunk_words(C);
  const uint32_t* p = reinterpret_cast<const uint32_t*>(row.codes) + static_cast<int64_t>(chunk) * kWords;
#pragma unroll
  for (int i = 0; i < kWords; ++i) raw.words[i] = p[i];
  raw.scale = 1.f;
  raw.offset = 0.f;
  if constexpr (C == Codes::mxfp4) {
    // E8M0: 2^(s − 127); s = 0 gives 2^−127, a subnormal float, exact.
    raw.scale = exp2f(static_cast<float>(static_cast<int>(row.scales[chunk]) - 127));
  } else if constexpr (C >= Codes::affine2) {
    // Groups of 32, 64 or 128 inputs are 1, 2 or 4 chunks: a shift, not a division.
    const int group = chunk >> (__ffs(w.group_size) - 6);
    raw.scale = load_scale_value(w.scale_type, row.scales, group);
    raw.offset = load_scale_value(w.scale_type, row.biases, group);
  }
}

template <Codes C>
__device__ __forceinline__ void decode_raw(const RawChunk<C>& raw, const float* fp4_table, Chunk& out) {
  out.scale = raw.scale;
  out.offset = raw.offset;
  if constexpr (C == Codes::f32) {
#pragma unroll
    for (int i = 0; i < 32; ++i) out.q[i] = __uint_as_float(raw.words[i]);
  } else if constexpr (C == Codes::f16 || C == Codes::bf16) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint32_t pair = raw.words[i];
      if constexpr (C == Codes::bf16) {
        out.q[2 * i] = __uint_as_float(pair << 16);
        out.q[2 * i + 1] = __uint_as_float(pair & 0xFFFF0000u);
      } else {
        const __half2 h = *reinterpret_cast<const __half2*>(&pair);
        const float2 f = __half22float2(h);
        out.q[2 * i] = f.x;
        out.q[2 * i + 1] = f.y;
      }
    }
  } else if constexpr (C == Codes::mxfp4) {
#pragma unroll
    for (int word = 0; word < 4; ++word) {
#pragma unroll
      for (int j = 0; j < 8; ++j) out.q[word * 8 + j] = fp4_table[(raw.words[word] >> (4 * j)) & 15];
    }
  } else {
    // 32 codes of kBits bits are exactly kBits words (LSB-first within the row).
    constexpr int kBits = affine_bits(C);
    constexpr uint32_t kMask = (1u << kBits) - 1;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int bit = i * kBits, word = bit >> 5, shift = bit & 31;
      uint32_t q = raw.words[word] >> shift;
      if (shift + kBits > 32) q |= raw.words[word + 1] << (32 - shift);
      out.q[i] = __uint_as_float(0x4B000000u | (q & kMask)) - 8388608.f;
    }
  }
}

template <Codes C>
__device__ __forceinline__ void load_chunk(const Matrix& w, const RowPointers& row, int chunk, const float* fp4_table,
                                           Chunk& out) {
  RawChunk<C> raw;
  load_raw<C>(w, row, chunk, raw);
  decode_raw<C>(raw, fp4_table, out);
}

// The kernels' template parameter for a matrix (host side).
inline Codes codes_of(const Matrix& w) {
  switch (w.format) {
    case WeightFormat::f32: return Codes::f32;
    case WeightFormat::f16: return Codes::f16;
    case WeightFormat::bf16: return Codes::bf16;
    case WeightFormat::mxfp4: return Codes::mxfp4;
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return Codes::affine2;
        case 3: return Codes::affine3;
        case 4: return Codes::affine4;
        case 5: return Codes::affine5;
        case 6: return Codes::affine6;
        default: return Codes::affine8;
      }
  }
  return Codes::f32;
}

// Calls launch.template operator()<C>() for the matrix's codes (host side): a kernel launch
// instantiated for each format.
template <class Launch>
void with_codes(const Matrix& w, Launch&& launch) {
  switch (codes_of(w)) {
    case Codes::f32: return launch.template operator()<Codes::f32>();
    case Codes::f16: return launch.template operator()<Codes::f16>();
    case Codes::bf16: return launch.template operator()<Codes::bf16>();
    case Codes::mxfp4: return launch.template operator()<Codes::mxfp4>();
    case Codes::affine2: return launch.template operator()<Codes::affine2>();
    case Codes::affine3: return launch.template operator()<Codes::affine3>();
    case Codes::affine4: return launch.template operator()<Codes::affine4>();
    case Codes::affine5: return launch.template operator()<Codes::affine5>();
    case Codes::affine6: return launch.template operator()<Codes::affine6>();
    case Codes::affine8: return launch.template operator()<Codes::affine8>();
  }
}

}  // namespace gptoss::cuda
