// RoPE on the GPU, shared by the rope kernel (elementwise.cu) and the attention's rotate-and-
// store kernel (attention.cu): the same arithmetic as the CPU's norm_rope.h, rounding included.
#pragma once

#include <cuda_runtime.h>

namespace gptoss::cuda {

inline constexpr int kMaxHeadDim = 256;

// The model's inverse frequencies (head_dim / 2 of them) and the attention scaling (YaRN's
// factor on cos and sin), passed by value to the kernels.
struct RopeTable {
  float inv_freq[kMaxHeadDim / 2];
  float scaling;
};

// The block's angles for `position`: θ_i = position · inv_freq[i] rounded to float as on the
// CPU, cosine and sine taken in double, both times the scaling. Every thread calls it; the
// caller synchronizes before reading them.
__device__ __forceinline__ void rope_angles(int position, const RopeTable& table, int half, float* cosines,
                                            float* sines) {
  for (int i = static_cast<int>(threadIdx.x); i < half; i += static_cast<int>(blockDim.x)) {
    const float theta = __fmul_rn(static_cast<float>(position), table.inv_freq[i]);
    cosines[i] = static_cast<float>(cos(static_cast<double>(theta))) * table.scaling;
    sines[i] = static_cast<float>(sin(static_cast<double>(theta))) * table.scaling;
  }
}

// (x1, x2) → (x1 cos θ − x2 sin θ, x2 cos θ + x1 sin θ) for the NeoX half-split pair
// (x[i], x[i + head_dim / 2]), each product rounded before the sum, as on the CPU.
__device__ __forceinline__ void rotate_pair(float* x, int i, int half, float c, float s) {
  const float x1 = x[i], x2 = x[i + half];
  x[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
  x[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
}

}  // namespace gptoss::cuda
