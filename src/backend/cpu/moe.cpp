#include "backend/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
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

namespace {

// The routed (row, weight) pairs of one expert, in row order.
using Assignment = std::vector<std::pair<int64_t, float>>;

// Row i of dst = row list[i].first of x, for i in [i0, i1).
void gather_rows(const float* x, int64_t hidden, const Assignment& list, int64_t i0, int64_t i1, float* dst) {
  for (int64_t i = i0; i < i1; ++i)
    std::memcpy(dst + i * hidden, x + list[static_cast<size_t>(i)].first * hidden, sizeof(float) * static_cast<size_t>(hidden));
}

// One expert's share of a step: its input rows gathered, its activations.
struct ExpertSlot {
  int expert = 0;
  const Assignment* rows = nullptr;
  float *x, *gate, *up, *act, *y;  // [n, hidden], [n, inter] ×3, [n, hidden], in ExpertSlots' buffer
  int64_t n() const { return static_cast<int64_t>(rows->size()); }
};

// The slots of experts [first, last) that have rows, in expert order, with one allocation for
// all their activations, left uninitialized (every value is written before it is read; zeroing
// megabytes per layer showed in prefill's profile). Not kept across calls: the model serves any
// number of caller threads, and a cache per thread would grow with them.
struct ExpertSlots {
  std::vector<ExpertSlot> slots;
  std::unique_ptr<float[]> arena;

  ExpertSlots(const std::vector<Assignment>& assigned, int first, int last, int64_t hidden, int64_t inter) {
    size_t floats = 0;
    for (int e = first; e < last; ++e) floats += assigned[static_cast<size_t>(e)].size() * static_cast<size_t>(2 * hidden + 3 * inter);
    arena.reset(new float[floats]);
    float* next = arena.get();
    const auto take = [&next](int64_t count) { return std::exchange(next, next + count); };
    for (int e = first; e < last; ++e) {
      const Assignment& list = assigned[static_cast<size_t>(e)];
      if (list.empty()) continue;
      const auto n = static_cast<int64_t>(list.size());
      slots.push_back({e, &list, take(n * hidden), take(n * inter), take(n * inter), take(n * inter), take(n * hidden)});
    }
  }
  int64_t count() const { return static_cast<int64_t>(slots.size()); }
};

// gate and up rows [r0, r1) of a slot's outputs biased, and their SwiGLU into act.
void biased_swiglu(const ExpertSlot& s, const MoeWeights& w, const MoeParameters& p, int64_t r0, int64_t r1, bool bias) {
  const int64_t inter = w.gate.rows;
  const float* gate_bias = w.gate_bias.data + s.expert * inter;
  const float* up_bias = w.up_bias.data + s.expert * inter;
  for (int64_t i = 0; i < s.n(); ++i) {
    float* g = s.gate + i * inter;
    float* u = s.up + i * inter;
    if (bias)
      for (int64_t r = r0; r < r1; ++r) {
        g[r] += gate_bias[r];
        u[r] += up_bias[r];
      }
    best_cpu_kernels().swiglu(g + r0, u + r0, r1 - r0, p.swiglu_limit, p.swiglu_alpha, s.act + i * inter + r0);
  }
}

// out[row, c] += weight · (y[i, c] + bias[c]) over the slots in expert order, for features c in
// [c0, c1): a thread owning a range of features never meets another's writes, and every output
// sums its experts in the same order whatever the threads.
void add_weighted(const ExpertSlots& group, const MoeWeights& w, int64_t c0, int64_t c1, bool bias, float* out) {
  const int64_t hidden = w.down.rows;
  for (const ExpertSlot& s : group.slots) {
    const float* b = w.down_bias.data + s.expert * hidden;
    for (int64_t i = 0; i < s.n(); ++i) {
      const auto [row, weight] = (*s.rows)[static_cast<size_t>(i)];
      const float* y = s.y + i * hidden;
      float* o = out + row * hidden;
      if (bias)
        for (int64_t c = c0; c < c1; ++c) o[c] += weight * (y[c] + b[c]);
      else
        for (int64_t c = c0; c < c1; ++c) o[c] += weight * y[c];
    }
  }
}

// Decode (every expert sees at most kMaxFusedInputs rows): two loops over the pool for all the
// selected experts together, instead of three per expert. The first streams gate and up rows
// of every selected expert once and applies the SwiGLU to what it produced; the second streams
// the down rows and adds each expert's weighted output into `out`, each thread owning a range
// of output features. Inputs are prepared once per expert for each loop (DecodeInputs: in bf16
// they are rounded and summed by 32 columns, which needs whole rows).
void moe_decode(const float* x, int64_t hidden, const MoeWeights& w, const MoeParameters& p,
                const std::vector<Assignment>& assigned, float* out, ThreadPool& pool, LinearPrecision precision) {
  const int64_t inter = w.gate.rows;
  ExpertSlots group(assigned, 0, p.experts, hidden, inter);
  std::vector<DecodeInputs> inputs, activations;
  inputs.reserve(group.slots.size());
  activations.reserve(group.slots.size());
  for (const ExpertSlot& s : group.slots) {
    gather_rows(x, hidden, *s.rows, 0, s.n(), s.x);
    inputs.emplace_back(s.x, s.n(), hidden, precision);
  }
  const int64_t grain = std::max<int64_t>(16, group.count() * inter / (8 * pool.size()));
  pool.parallel_for(group.count() * inter, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t at = begin; at < end;) {
      const auto k = static_cast<size_t>(at / inter);
      const ExpertSlot& s = group.slots[k];
      const int64_t r0 = at % inter, r1 = std::min(inter, r0 + (end - at));
      inputs[k].multiply(slice(w.gate, s.expert), s.gate, inter, r0, r1);
      inputs[k].multiply(slice(w.up, s.expert), s.up, inter, r0, r1);
      biased_swiglu(s, w, p, r0, r1, true);
      at += r1 - r0;
    }
  });

  for (const ExpertSlot& s : group.slots) activations.emplace_back(s.act, s.n(), inter, precision);
  const int64_t down_grain = std::max<int64_t>(16, hidden / (8 * pool.size()));
  pool.parallel_for(hidden, down_grain, [&](int64_t r0, int64_t r1, int) {
    for (size_t k = 0; k < group.slots.size(); ++k) {
      const ExpertSlot& s = group.slots[k];
      activations[k].multiply(slice(w.down, s.expert), s.y, hidden, r0, r1);
    }
    add_weighted(group, w, r0, r1, true, out);
  });
}

// Routed rows per group of experts in prefill: bounds the activations held at once (about
// 58 KB a row at the 20b's shapes, so ~15 MB: under glibc's largest mmap threshold, so the
// buffer is reused from the heap instead of being mapped and faulted in for every layer)
// whatever the prompt's length.
constexpr int64_t kPrefillGroupRows = 256;

// Prefill: the experts in groups of about kPrefillGroupRows routed rows, each group in four
// loops over the pool for all its experts together (instead of several per expert, each ending
// in a barrier): inputs gathered and prepared; gate and up blocks, with the SwiGLU of what a
// block produced; the activations prepared; down blocks; then the weighted sums into `out`.
void moe_prefill(const float* x, int64_t hidden, const MoeWeights& w, const MoeParameters& p,
                 const std::vector<Assignment>& assigned, float* out, ThreadPool& pool, LinearPrecision precision) {
  const int64_t inter = w.gate.rows;
  for (int first = 0; first < p.experts;) {
    int last = first;
    for (int64_t rows = 0; last < p.experts && (last == first || rows + static_cast<int64_t>(assigned[static_cast<size_t>(last)].size()) <= kPrefillGroupRows); ++last)
      rows += static_cast<int64_t>(assigned[static_cast<size_t>(last)].size());
    ExpertSlots group(assigned, first, last, hidden, inter);
    first = last;
    std::vector<PrefillInputs> inputs, activations;
    inputs.reserve(group.slots.size());
    activations.reserve(group.slots.size());
    for (const ExpertSlot& s : group.slots) {
      inputs.emplace_back(s.x, s.n(), hidden, precision);
      activations.emplace_back(s.act, s.n(), inter, precision);
    }
    // Blocks of all the slots' products, numbered slot by slot.
    const auto for_blocks = [&](const std::vector<PrefillInputs>& of, const Matrix& m, auto&& body) {
      std::vector<int64_t> starts{0};
      for (const PrefillInputs& in : of) starts.push_back(starts.back() + in.weight_blocks(m));
      pool.parallel_for(starts.back(), 1, [&](int64_t b0, int64_t b1, int thread) {
        for (int64_t b = b0; b < b1; ++b) {
          const auto k = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), b) - starts.begin() - 1);
          body(k, b - starts[k], thread);
        }
      });
    };

    pool.parallel_for(group.count(), 1, [&](int64_t k0, int64_t k1, int) {
      for (auto k = static_cast<size_t>(k0); k < static_cast<size_t>(k1); ++k) {
        gather_rows(x, hidden, *group.slots[k].rows, 0, group.slots[k].n(), group.slots[k].x);
        inputs[k].prepare(0, inputs[k].input_blocks());
      }
    });
    for_blocks(inputs, w.gate, [&](size_t k, int64_t b, int thread) {
      const ExpertSlot& s = group.slots[k];
      inputs[k].multiply({nullptr, s.n(), &w.gate, s.expert, w.gate_bias.data + s.expert * inter, s.gate, inter}, b, pool, thread);
      inputs[k].multiply({nullptr, s.n(), &w.up, s.expert, w.up_bias.data + s.expert * inter, s.up, inter}, b, pool, thread);
      const int64_t r0 = b * inputs[k].block_rows();
      biased_swiglu(s, w, p, r0, std::min(inter, r0 + inputs[k].block_rows()), false);
    });
    pool.parallel_for(group.count(), 1, [&](int64_t k0, int64_t k1, int) {
      for (auto k = static_cast<size_t>(k0); k < static_cast<size_t>(k1); ++k) activations[k].prepare(0, activations[k].input_blocks());
    });
    for_blocks(activations, w.down, [&](size_t k, int64_t b, int thread) {
      const ExpertSlot& s = group.slots[k];
      activations[k].multiply({nullptr, s.n(), &w.down, s.expert, w.down_bias.data + s.expert * hidden, s.y, hidden}, b, pool, thread);
    });
    const int64_t grain = std::max<int64_t>(16, hidden / (4 * pool.size()));
    pool.parallel_for(hidden, grain, [&](int64_t c0, int64_t c1, int) { add_weighted(group, w, c0, c1, false, out); });
  }
}

}  // namespace

void moe_rows(const float* x, int64_t rows, const MoeWeights& w, const MoeParameters& p, float* out,
              ThreadPool& pool, LinearPrecision precision) {
  const CpuKernels& kernels = best_cpu_kernels();
  std::vector<float> router_logits(static_cast<size_t>(rows * p.experts));
  linear({x, rows, &w.router, 0, w.router_bias.data, router_logits.data(), p.experts}, pool, kernels, precision);

  // Rows per expert, with their routing weights, in row order.
  std::vector<Assignment> assigned(static_cast<size_t>(p.experts));
  for (int64_t r = 0; r < rows; ++r)
    for (const ExpertChoice& c : route_token(router_logits.data() + r * p.experts, p.experts, p.experts_per_token))
      assigned[static_cast<size_t>(c.expert)].emplace_back(r, c.weight);

  std::memset(out, 0, sizeof(float) * static_cast<size_t>(rows * w.down.rows));
  // Experts with few rows (all of them in decode) stream their packed weights once (the decode
  // kernels): the blocked prefill products pay a dequantization per weight block that only many
  // rows amortize, and a short prompt spreads over most experts a few rows each. The rest go
  // through prefill.
  std::vector<Assignment> few(assigned.size());
  bool any_few = false, any_many = false;
  for (size_t e = 0; e < assigned.size(); ++e) {
    if (assigned[e].size() > static_cast<size_t>(kMaxFusedInputs)) {
      any_many = true;
    } else if (!assigned[e].empty()) {
      few[e] = std::exchange(assigned[e], {});
      any_few = true;
    }
  }
  if (any_few) moe_decode(x, w.down.rows, w, p, few, out, pool, precision);
  if (any_many) moe_prefill(x, w.down.rows, w, p, assigned, out, pool, precision);
}

}  // namespace gptoss
