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

}  // namespace gptoss
