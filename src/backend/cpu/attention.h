// Causal grouped-query attention with per-head sinks and an optional sliding window, over a
// ragged batch of sequences whose earlier keys live in a KV cache.
#pragma once

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "util/thread_pool.h"

namespace gptoss {

// For query row i of a sequence at position p and head h (kv head g = h / (heads/kv_heads)):
//   s_j = scale · q_i,h · k_j,g  for the allowed keys j (j ≤ p, and j > p − window if windowed)
//   m = max(sink_h, max_j s_j),  Z = exp(sink_h − m) + Σ_j exp(s_j − m)
//   out_i,h = Σ_j exp(s_j − m) / Z · v_j,g
// Keys before the sequence's first row come from `cache`, the others from k/v. The sink is a
// raw logit: it takes probability mass but has no value. Does not modify the cache.
// head_dim must be a multiple of 32 (the kernels' chunk).
void attention_rows(const float* q, const float* k, const float* v, const BatchLayout& layout,
                    const KvLayer& cache, const AttentionParameters& params, float* out, ThreadPool& pool,
                    const CpuKernels& kernels = best_cpu_kernels());

// Writes the batch's keys/values into their cache slots (position % capacity). Only the last
// `capacity` positions of a sequence are written, so a ring never overwrites a key it still holds.
void store_kv(const float* k, const float* v, const BatchLayout& layout, int64_t kv_width, const KvLayer& cache);

}  // namespace gptoss
