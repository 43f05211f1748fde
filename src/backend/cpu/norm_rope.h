// Row-wise RMSNorm and rotary position embedding on the CPU.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace gptoss {

// out[r] = x[r] · (mean(x[r]²) + eps)^(−1/2) · weight   (weight is plain, not 1 + w)
void rmsnorm_rows(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out);

// NeoX "half split" rotation of each head of row r by positions[r]:
//   out[i] = x[i]·cos − x[i+d/2]·sin,  out[i+d/2] = x[i+d/2]·cos + x[i]·sin,
// with θ_i = position·inv_freq[i] in float32, and cos, sin both scaled by attention_scaling.
void rope_rows(float* x, int64_t rows, int heads, int head_dim, const int32_t* positions,
               const RopeParameters& rope);

}  // namespace gptoss
