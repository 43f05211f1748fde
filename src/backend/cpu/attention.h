// Causal grouped-query attention with per-head sinks and an optional sliding window, over a
// ragged batch of sequences whose keys and values live in a paged KV cache (f32 or bf16).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "util/thread_pool.h"

namespace gptoss {

// Writes row r's key and value (k/v row r, cache.kv_width floats each) into the cache at the
// row's position p: block block_tables[table_offset[g] + p / block_tokens], token
// p % block_tokens, g = cache.group, converted to cache.dtype (bf16: round to nearest even).
// Throws gptoss::Error when a position being stored has no block (a −1 entry, or past the
// table), or when the cache's dtype is neither f32 nor bf16.
void store_kv(const float* k, const float* v, const BatchLayout& layout, const KvLayerView& cache);

// Call after store_kv: every key a row attends to, its own included, is read from the cache.
// For query row i of a sequence at position p and head h (kv head g = h / (heads/kv_heads)):
//   s_j = scale · q_i,h · k_j,g  for the allowed keys j (j ≤ p, and j > p − window if windowed)
//   m = max(sink_h, max_j s_j),  Z = exp(sink_h − m) + Σ_j exp(s_j − m)
//   out_i,h = Σ_j exp(s_j − m) / Z · v_j,g
// The sink is a raw logit: it takes probability mass but has no value. Does not modify the
// cache. head_dim must be a multiple of 32 (the kernels' chunk), kv_width = kv_heads ·
// head_dim and sinks has `heads` values. Throws gptoss::Error when a position some row attends
// to has no block (checked before any work starts).
void attention_rows(const float* q, const BatchLayout& layout, const KvLayerView& cache,
                    const AttentionParameters& params, float* out, ThreadPool& pool,
                    const CpuKernels& kernels = best_cpu_kernels());

}  // namespace gptoss
