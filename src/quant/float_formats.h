// Scalar conversions between the 16-bit float formats and float32, and unaligned loads.
// Tensors from MLX files can start at any byte offset, so weights are always read through
// load_le<T> (memcpy compiles to a plain unaligned load).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gptoss {

template <typename T>
inline T load_le(const void* p) {
  static_assert(std::endian::native == std::endian::little, "gptoss assumes a little-endian host");
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// bfloat16 is the upper half of a float32: widening is exact.
inline float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

// float32 → bfloat16 with round-to-nearest-even; NaN stays a quiet NaN.
inline uint16_t f32_to_bf16(float value) {
  uint32_t u = std::bit_cast<uint32_t>(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE half → float32, exact (subnormals included).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// float32 → IEEE half with round-to-nearest-even (overflow → inf, subnormals rounded).
inline uint16_t f32_to_f16(float value) {
  const uint32_t u = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to ≥ 65520 → inf
  if (abs < 0x38800000u) {  // below the smallest normal half: scale so the result is an integer
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // 2^24, exact
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)));
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

// A float rounded to the nearest representable bfloat16 / half value (as MLX stores them).
inline float round_to_bf16(float value) { return bf16_to_f32(f32_to_bf16(value)); }
inline float round_to_f16(float value) { return f16_to_f32(f32_to_f16(value)); }

}  // namespace gptoss
