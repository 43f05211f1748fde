#include "quant/mxfp4.h"

#include <algorithm>

namespace gptoss {

void mxfp4_dequantize_row(const uint8_t* codes, const uint8_t* scales, int64_t cols, float* out) {
  for (int64_t g = 0; g < cols / 32; ++g) {
    const float scale = e8m0_to_f32(scales[g]);
    for (int j = 0; j < 16; ++j) {
      const uint8_t byte = codes[g * 16 + j];
      out[g * 32 + 2 * j] = kFp4Values[byte & 0x0f] * scale;
      out[g * 32 + 2 * j + 1] = kFp4Values[byte >> 4] * scale;
    }
  }
}

void mxfp4_quantize_mlx(const float* w, int64_t n, float (*to_storage)(float), uint8_t* packed, uint8_t* scales) {
  for (int64_t g = 0; g < n / 32; ++g) {
    const float* v = w + g * 32;
    float amax = 0.f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(v[i]));
    const int e = amax == 0.f ? 0 : static_cast<int>(std::rint(to_storage(std::log2(to_storage(amax / 6.f)))));
    scales[g] = static_cast<uint8_t>(e + 127);
    for (int i = 0; i < 32; i += 2) {
      uint8_t pair = 0;
      for (int k = 0; k < 2; ++k) {
        const float x = to_storage(std::ldexp(v[i + k], -e));
        int best = 0;
        for (int c = 1; c < 16; ++c)
          if (std::abs(x - kFp4Values[c]) < std::abs(x - kFp4Values[best])) best = c;
        pair = static_cast<uint8_t>(pair | (best << (4 * k)));
      }
      packed[g * 16 + i / 2] = pair;
    }
  }
}

}  // namespace gptoss
