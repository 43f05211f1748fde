#include "quant/mxfp4.h"

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

}  // namespace gptoss
