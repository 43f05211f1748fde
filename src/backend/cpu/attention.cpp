#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace gptoss {

namespace {

// A run of consecutive key positions stored at a fixed stride.
struct KeyRun {
  int64_t first_position;
  int64_t count;
  const float* keys;    // key of first_position, this kv head
  const float* values;
};

// The keys [first, last] of a sequence in memory order: cached positions (a ring may wrap
// once) and then the batch's own rows.
int key_runs(const BatchLayout::Sequence& seq, const KvLayer& cache, const float* k, const float* v, int64_t kv_width,
             int64_t offset, int64_t first, int64_t last, KeyRun* runs) {
  int n = 0;
  for (int64_t j = first; j <= last && j < seq.start_position;) {
    const int64_t slot = j % cache.capacity;
    const int64_t count = std::min({cache.capacity - slot, seq.start_position - j, last + 1 - j});
    const int64_t at = (seq.slot * cache.capacity + slot) * kv_width + offset;
    runs[n++] = {j, count, cache.keys + at, cache.values + at};
    j += count;
  }
  const int64_t j = std::max(first, static_cast<int64_t>(seq.start_position));
  if (j <= last) {
    const int64_t at = (seq.first_row + j - seq.start_position) * kv_width + offset;
    runs[n++] = {j, last + 1 - j, k + at, v + at};
  }
  return n;
}

}  // namespace

void attention_rows(const float* q, const float* k, const float* v, const BatchLayout& layout, const KvLayer& cache,
                    const AttentionParameters& p, float* out, ThreadPool& pool, const CpuKernels& kernels) {
  const int64_t q_width = static_cast<int64_t>(p.heads) * p.head_dim;
  const int64_t kv_width = static_cast<int64_t>(p.kv_heads) * p.head_dim;
  const int group = p.heads / p.kv_heads;
  std::vector<int> sequence_of_row(static_cast<size_t>(layout.rows()));
  for (size_t s = 0; s < layout.sequences.size(); ++s)
    for (int64_t r = 0; r < layout.sequences[s].rows; ++r)
      sequence_of_row[static_cast<size_t>(layout.sequences[s].first_row + r)] = static_cast<int>(s);

  // One item = one query row and one kv head: its `group` query heads share every key and
  // value, which are read once for all of them.
  pool.parallel_for(layout.rows() * p.kv_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    std::vector<float>& scores = pool.scratch(thread);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / p.kv_heads;
      const int kv_head = static_cast<int>(item % p.kv_heads);
      const auto& seq = layout.sequences[static_cast<size_t>(sequence_of_row[static_cast<size_t>(row)])];
      const int64_t position = layout.positions[static_cast<size_t>(row)];
      const int64_t first_key = p.window > 0 ? std::max<int64_t>(0, position - p.window + 1) : 0;
      const int64_t n_keys = position - first_key + 1;
      KeyRun runs[3];
      const int n_runs = key_runs(seq, cache, k, v, kv_width, kv_head * p.head_dim, first_key, position, runs);

      const float* q_group = q + row * q_width + kv_head * group * p.head_dim;
      float* out_group = out + row * q_width + kv_head * group * p.head_dim;
      scores.resize(static_cast<size_t>(group * n_keys));
      for (int r = 0; r < n_runs; ++r)
        kernels.dot_products(q_group, group, p.head_dim, runs[r].keys, runs[r].count, kv_width, p.head_dim,
                             scores.data() + (runs[r].first_position - first_key), n_keys);
      for (int h = 0; h < group; ++h) {
        float* s = scores.data() + h * n_keys;
        const float sink = p.sinks.data[kv_head * group + h];
        float m = sink;
        for (int64_t j = 0; j < n_keys; ++j) m = std::max(m, s[j] *= p.scale);
        float z = std::exp(sink - m);
        for (int64_t j = 0; j < n_keys; ++j) z += s[j] = std::exp(s[j] - m);
        for (int64_t j = 0; j < n_keys; ++j) s[j] /= z;
      }
      std::memset(out_group, 0, sizeof(float) * static_cast<size_t>(group * p.head_dim));
      for (int r = 0; r < n_runs; ++r)
        kernels.weighted_sum(scores.data() + (runs[r].first_position - first_key), group, n_keys, runs[r].values,
                             runs[r].count, kv_width, p.head_dim, out_group, p.head_dim);
    }
  });
}

void store_kv(const float* k, const float* v, const BatchLayout& layout, int64_t kv_width, const KvLayer& cache) {
  for (const auto& seq : layout.sequences) {
    const int64_t end = seq.start_position + seq.rows;
    for (int64_t j = std::max<int64_t>(seq.start_position, end - cache.capacity); j < end; ++j) {
      const int64_t src = (seq.first_row + j - seq.start_position) * kv_width;
      const int64_t dst = (seq.slot * cache.capacity + j % cache.capacity) * kv_width;
      std::memcpy(cache.keys + dst, k + src, sizeof(float) * static_cast<size_t>(kv_width));
      std::memcpy(cache.values + dst, v + src, sizeof(float) * static_cast<size_t>(kv_width));
    }
  }
}

}  // namespace gptoss
