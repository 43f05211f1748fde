// MLX affine quantization (mode "affine"), bit-exact with MLX: the quantizer with its "edge
// trick", the LSB-first bit-stream packing of every width, and dequantization. See
// docs/FORMATS.md and MLX's `affine_quantize` (mlx/backend/{metal,cpu}/quantized).
#pragma once

#include <cstdint>

namespace gptoss {

// MLX has two rounding variants of the same quantizer:
//   gpu: the Metal/CUDA kernels, which wrote the published files — the group maximum is
//        seeded with 0 (so w_max = max(0, max w)) and rounding is half away from zero;
//   cpu: MLX's CPU kernel (and the goldens in tests/data/mlx-quant) — the true maximum and
//        round half to even.
enum class AffineRounding { gpu, cpu };

bool affine_bits_supported(int bits);          // 2, 3, 4, 5, 6, 8
bool affine_group_size_supported(int group_size);  // 32, 64, 128

// Quantizes `n` floats (a multiple of group_size) into codes in [0, 2^bits − 1], one per
// element, and per group a scale and bias (float32, before rounding to the storage dtype).
// Per group, in float32: scale = max((w_max − w_min)/(2^bits − 1), 1e-7); the larger of
// |w_min|, |w_max| is the "edge" (scale negated when it is w_max); q0 = round(edge/scale);
// if q0 ≠ 0 then scale = edge/q0 and bias = edge (so the edge is exact), else bias = 0;
// q = clamp(round((w − bias)/scale), 0, 2^bits − 1) with the unrounded scale and bias.
void affine_quantize(const float* w, int64_t n, int bits, int group_size, AffineRounding rounding,
                     uint8_t* codes, float* scales, float* biases);

// Packs n codes of `bits` each as one little-endian bit stream: code j occupies stream bits
// [j·bits, (j+1)·bits), stream bit i being bit i%8 of byte i/8. Writes ⌈n·bits/8⌉ bytes.
void affine_pack(const uint8_t* codes, int64_t n, int bits, uint8_t* packed);

// Code j of a packed row (reads at most the two bytes holding it).
inline uint32_t affine_code(const uint8_t* packed, int64_t j, int bits) {
  const int64_t bit = j * bits;
  uint32_t window = packed[bit / 8];
  if ((bit % 8) + bits > 8) window |= static_cast<uint32_t>(packed[bit / 8 + 1]) << 8;
  return (window >> (bit % 8)) & ((1u << bits) - 1);
}

void affine_unpack(const uint8_t* packed, int64_t n, int bits, uint8_t* codes);

// w = scale·q + bias in float32, for one row of n elements.
void affine_dequantize(const uint8_t* packed, const float* scales, const float* biases, int64_t n, int bits,
                       int group_size, float* out);

}  // namespace gptoss
