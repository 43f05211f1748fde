// RoPE frequencies for a config: plain RoPE, or YaRN (NTK-by-parts) as gpt-oss uses.
#pragma once

#include "backend/backend.h"
#include "gptoss/config.h"

namespace gptoss {

// YaRN (Peng et al. 2023, §3.2–3.3; transformers `_compute_yarn_parameters`), for i < d/2:
//   extrapolation_i = θ^(−2i/d),  interpolation_i = extrapolation_i / factor
//   low/high = d·ln(L / (β·2π)) / (2 ln θ) for β = beta_fast / beta_slow, L = original context,
//              floored/ceiled only when `truncate` (gpt-oss: false, so 8.09 and 17.40)
//   ramp_i = clamp((i − low) / (high − low), 0, 1)
//   inv_freq_i = interpolation_i · ramp_i + extrapolation_i · (1 − ramp_i)
//   attention_scaling = 0.1·ln(factor) + 1 (1.3466 for factor 32), applied to cos and sin.
// Computed in float32 like the reference.
RopeParameters rope_parameters(const ModelConfig& config);

}  // namespace gptoss
