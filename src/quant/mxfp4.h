// OCP Microscaling FP4: E2M1 codes with a shared E8M0 scale per 32 elements.
#pragma once

#include <cmath>
#include <cstdint>

namespace gptoss {

// E2M1 code → value; bit 3 is the sign.
inline constexpr float kFp4Values[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                         -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// E8M0 byte s → 2^(s − 127); 255 is NaN by the OCP spec.
inline float e8m0_to_f32(uint8_t s) { return s == 255 ? NAN : std::ldexp(1.0f, static_cast<int>(s) - 127); }

// Decodes `cols` elements (a multiple of 32): byte j of a 16-byte block holds element 2j in its
// low nibble and 2j+1 in its high nibble; block g uses scales[g].
void mxfp4_dequantize_row(const uint8_t* codes, const uint8_t* scales, int64_t cols, float* out);

// MLX's mxfp4 quantizer (mode "mxfp4", group 32), as its CPU kernel computes it: per group
// the exponent e = rint(T(log2(T(max|w| / 6)))) (0 for an all-zero group), stored as the E8M0
// byte e + 127; each element gets the E2M1 code nearest to T(w / 2^e), ties going to the first
// table entry (the smaller magnitude, +0 before −0), values beyond ±6 saturating. T is the
// model's float type: `to_storage` rounds a float to it. Writes n/2 packed bytes, n/32 scales.
void mxfp4_quantize_mlx(const float* w, int64_t n, float (*to_storage)(float), uint8_t* packed, uint8_t* scales);

}  // namespace gptoss
