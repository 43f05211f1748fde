#include "backend/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>

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

namespace {

// The routed (row, weight) pairs of one expert, in row order.
using Assignment = std::vector<std::pair<int64_t, float>>;

// Row i of dst = row list[i].first of x, for i in [i0, i1).
void gather_rows(const float* x, int64_t hidden, const Assignment& list, int64_t i0, int64_t i1, float* dst) {
  for (int64_t i = i0; i < i1; ++i)
    std::memcpy(dst + i * hidden, x + list[static_cast<size_t>(i)].first * hidden, sizeof(float) * static_cast<size_t>(hidden));
}

// One expert's share of a decode step: its input rows gathered, its activations.
struct ExpertSlot {
  int expert = 0;
  const Assignment* rows = nullptr;
  float *x, *gate, *up, *act, *y;  // [n, hidden], [n, inter] ×3, [n, hidden], in one buffer
};

// Decode (every expert sees at most kMaxFusedInputs rows): two loops over the pool for all the
// selected experts together, instead of three per expert. The first streams gate and up rows
// of every selected expert once and applies the SwiGLU to what it produced; the second streams
// the down rows and adds each expert's weighted output into `out`, each thread owning a range
// of output features.
void moe_decode(const float* x, int64_t hidden, const MoeWeights& w, const MoeParameters& p,
                const std::vector<Assignment>& assigned, float* out, ThreadPool& pool) {
  const int64_t inter = w.gate.rows;
  const CpuKernels& kernels = best_cpu_kernels();
  // One allocation per call for all the slots' activations (a few hundred KB at the 20b's
  // shapes). Not kept across calls: the model serves any number of caller threads, and a cache
  // per thread would grow with them.
  std::vector<ExpertSlot> slots;
  size_t floats = 0;
  for (const Assignment& list : assigned) floats += list.size() * static_cast<size_t>(2 * hidden + 3 * inter);
  std::vector<float> arena(floats);
  float* next = arena.data();
  const auto take = [&next](int64_t count) { return std::exchange(next, next + count); };
  for (int e = 0; e < p.experts; ++e) {
    const Assignment& list = assigned[static_cast<size_t>(e)];
    if (list.empty()) continue;
    const auto n = static_cast<int64_t>(list.size());
    slots.push_back({e, &list, take(n * hidden), take(n * inter), take(n * inter), take(n * inter), take(n * hidden)});
    gather_rows(x, hidden, list, 0, n, slots.back().x);
  }
  const auto count = static_cast<int64_t>(slots.size());
  const int64_t grain = std::max<int64_t>(16, count * inter / (8 * pool.size()));

  pool.parallel_for(count * inter, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t at = begin; at < end;) {
      ExpertSlot& s = slots[static_cast<size_t>(at / inter)];
      const int64_t r0 = at % inter, r1 = std::min(inter, r0 + (end - at));
      const auto n = static_cast<int>(s.rows->size());
      const MatrixSlice gate = slice(w.gate, s.expert), up = slice(w.up, s.expert);
      kernels.fused(gate)(gate, s.x, n, s.gate, inter, r0, r1);
      kernels.fused(up)(up, s.x, n, s.up, inter, r0, r1);
      const float* gate_bias = w.gate_bias.data + s.expert * inter;
      const float* up_bias = w.up_bias.data + s.expert * inter;
      for (int i = 0; i < n; ++i) {
        float* g = s.gate + i * inter;
        float* u = s.up + i * inter;
        for (int64_t r = r0; r < r1; ++r) {
          g[r] += gate_bias[r];
          u[r] += up_bias[r];
        }
        swiglu(g + r0, u + r0, r1 - r0, p.swiglu_limit, p.swiglu_alpha, s.act + i * inter + r0);
      }
      at += r1 - r0;
    }
  });

  const int64_t down_grain = std::max<int64_t>(16, hidden / (8 * pool.size()));
  pool.parallel_for(hidden, down_grain, [&](int64_t r0, int64_t r1, int) {
    for (int64_t k = 0; k < count; ++k) {
      ExpertSlot& s = slots[static_cast<size_t>(k)];
      const auto n = static_cast<int>(s.rows->size());
      const MatrixSlice down = slice(w.down, s.expert);
      kernels.fused(down)(down, s.act, n, s.y, hidden, r0, r1);
      const float* bias = w.down_bias.data + s.expert * hidden;
      for (int i = 0; i < n; ++i) {
        const auto [row, weight] = (*s.rows)[static_cast<size_t>(i)];
        const float* y = s.y + i * hidden;
        float* o = out + row * hidden;
        for (int64_t r = r0; r < r1; ++r) o[r] += weight * (y[r] + bias[r]);
      }
    }
  });
}

}  // namespace

void moe_rows(const float* x, int64_t rows, const MoeWeights& w, const MoeParameters& p, float* out,
              ThreadPool& pool, LinearPrecision precision) {
  const CpuKernels& kernels = best_cpu_kernels();
  const int64_t hidden = w.down.rows, inter = w.gate.rows;
  std::vector<float> router_logits(static_cast<size_t>(rows * p.experts));
  linear({x, rows, &w.router, 0, w.router_bias.data, router_logits.data(), p.experts}, pool, kernels, precision);

  // Rows per expert, with their routing weights, in row order.
  std::vector<Assignment> assigned(static_cast<size_t>(p.experts));
  for (int64_t r = 0; r < rows; ++r)
    for (const ExpertChoice& c : route_token(router_logits.data() + r * p.experts, p.experts, p.experts_per_token))
      assigned[static_cast<size_t>(c.expert)].emplace_back(r, c.weight);

  std::memset(out, 0, sizeof(float) * static_cast<size_t>(rows * hidden));
  if (rows <= kMaxFusedInputs) return moe_decode(x, hidden, w, p, assigned, out, pool);
  std::vector<float> xs, gate, up, act, y;
  for (int e = 0; e < p.experts; ++e) {
    const auto& list = assigned[static_cast<size_t>(e)];
    const auto n = static_cast<int64_t>(list.size());
    if (n == 0) continue;
    xs.resize(static_cast<size_t>(n * hidden));
    pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) { gather_rows(x, hidden, list, i0, i1, xs.data()); });
    gate.resize(static_cast<size_t>(n * inter));
    up.resize(static_cast<size_t>(n * inter));
    act.resize(static_cast<size_t>(n * inter));
    y.resize(static_cast<size_t>(n * hidden));
    linear({xs.data(), n, &w.gate, e, w.gate_bias.data + e * inter, gate.data(), inter}, pool, kernels, precision);
    linear({xs.data(), n, &w.up, e, w.up_bias.data + e * inter, up.data(), inter}, pool, kernels, precision);
    pool.parallel_for(n * inter, 4096, [&](int64_t i0, int64_t i1, int) {
      swiglu(gate.data() + i0, up.data() + i0, i1 - i0, p.swiglu_limit, p.swiglu_alpha, act.data() + i0);
    });
    linear({act.data(), n, &w.down, e, w.down_bias.data + e * hidden, y.data(), hidden}, pool, kernels, precision);
    // An expert's rows are distinct, so its threads never add into the same output row.
    pool.parallel_for(n, 16, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto [row, weight] = list[static_cast<size_t>(i)];
        axpy(weight, y.data() + i * hidden, out + row * hidden, hidden);
      }
    });
  }
}

}  // namespace gptoss
