// The gpt-oss mixture-of-experts block on the CPU; only the selected experts are computed.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/linear.h"
#include "util/thread_pool.h"

namespace gptoss {

struct ExpertChoice {
  int expert = 0;
  float weight = 0.f;
};

// Top-k of one row of router logits (ties go to the lower expert index), then a softmax over
// those k logits only: the routing weights of gpt-oss (not a softmax over all experts).
std::vector<ExpertChoice> route_token(const float* router_logits, int experts, int k);

// out[r] = Σ_{(e, w) ∈ route(r)} w · (down_e · swiglu(gate_e·x_r + b, up_e·x_r + b) + down_bias_e)
// The products use `precision` (see linear and DecodeInputs).
void moe_rows(const float* x, int64_t rows, const MoeWeights& weights, const MoeParameters& params,
              float* out, ThreadPool& pool, LinearPrecision precision = LinearPrecision::f32);

}  // namespace gptoss
