#include "backend/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backend/cpu/linear.h"
#include "backend/cpu/vector_math.h"

namespace gptoss {

std::vector<ExpertChoice> route_token(const float* logits, int experts, int k) {
  std::vector<int> order(static_cast<size_t>(experts));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<ExpertChoice> chosen(static_cast<size_t>(k));
  const float max_logit = logits[order[0]];
  float sum = 0.f;
  for (int i = 0; i < k; ++i) {
    chosen[static_cast<size_t>(i)] = {order[static_cast<size_t>(i)], std::exp(logits[order[static_cast<size_t>(i)]] - max_logit)};
    sum += chosen[static_cast<size_t>(i)].weight;
  }
  for (auto& c : chosen) c.weight /= sum;
  return chosen;
}

void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit);
    const float u = std::clamp(up[i], -limit, limit);
    const float glu = g / (1.f + std::exp(-alpha * g));
    out[i] = (u + 1.f) * glu;
  }
}

void moe_rows(const float* x, int64_t rows, const MoeWeights& w, const MoeParameters& p, float* out,
              ThreadPool& pool) {
  const int64_t hidden = w.down.rows, inter = w.gate.rows;
  std::vector<float> router_logits(static_cast<size_t>(rows * p.experts));
  linear({x, rows, &w.router, 0, w.router_bias.data, router_logits.data(), p.experts}, pool);

  // Rows per expert, with their routing weights, in row order.
  std::vector<std::vector<std::pair<int64_t, float>>> assigned(static_cast<size_t>(p.experts));
  for (int64_t r = 0; r < rows; ++r)
    for (const ExpertChoice& c : route_token(router_logits.data() + r * p.experts, p.experts, p.experts_per_token))
      assigned[static_cast<size_t>(c.expert)].emplace_back(r, c.weight);

  std::memset(out, 0, sizeof(float) * static_cast<size_t>(rows * hidden));
  std::vector<float> xs, gate, up, act, y;
  for (int e = 0; e < p.experts; ++e) {
    const auto& list = assigned[static_cast<size_t>(e)];
    const auto n = static_cast<int64_t>(list.size());
    if (n == 0) continue;
    xs.resize(static_cast<size_t>(n * hidden));
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(xs.data() + i * hidden, x + list[static_cast<size_t>(i)].first * hidden, sizeof(float) * static_cast<size_t>(hidden));
    gate.resize(static_cast<size_t>(n * inter));
    up.resize(static_cast<size_t>(n * inter));
    act.resize(static_cast<size_t>(n * inter));
    y.resize(static_cast<size_t>(n * hidden));
    linear({xs.data(), n, &w.gate, e, w.gate_bias.data + e * inter, gate.data(), inter}, pool);
    linear({xs.data(), n, &w.up, e, w.up_bias.data + e * inter, up.data(), inter}, pool);
    swiglu(gate.data(), up.data(), n * inter, p.swiglu_limit, p.swiglu_alpha, act.data());
    linear({act.data(), n, &w.down, e, w.down_bias.data + e * hidden, y.data(), hidden}, pool);
    for (int64_t i = 0; i < n; ++i) {
      const auto [row, weight] = list[static_cast<size_t>(i)];
      axpy(weight, y.data() + i * hidden, out + row * hidden, hidden);
    }
  }
}

}  // namespace gptoss
