#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/vector_math.h"

namespace gptoss {

void attention_rows(const float* q, const float* k, const float* v, const BatchLayout& layout,
                    const KvLayer& cache, const AttentionParameters& p, float* out, ThreadPool& pool) {
  const int64_t q_width = static_cast<int64_t>(p.heads) * p.head_dim;
  const int64_t kv_width = static_cast<int64_t>(p.kv_heads) * p.head_dim;
  const int group = p.heads / p.kv_heads;
  std::vector<int> sequence_of_row(static_cast<size_t>(layout.rows()));
  for (size_t s = 0; s < layout.sequences.size(); ++s)
    for (int64_t r = 0; r < layout.sequences[s].rows; ++r)
      sequence_of_row[static_cast<size_t>(layout.sequences[s].first_row + r)] = static_cast<int>(s);

  pool.parallel_for(layout.rows() * p.heads, 4, [&](int64_t begin, int64_t end, int thread) {
    std::vector<float>& scores = pool.scratch(thread);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / p.heads;
      const int h = static_cast<int>(item % p.heads);
      const int kv_head = h / group;
      const auto& seq = layout.sequences[static_cast<size_t>(sequence_of_row[static_cast<size_t>(row)])];
      const int64_t position = layout.positions[static_cast<size_t>(row)];
      const int64_t first_key = p.window > 0 ? std::max<int64_t>(0, position - p.window + 1) : 0;
      const auto key_at = [&](const float* batch, const float* cached, int64_t j) {
        const int64_t offset = kv_head * p.head_dim;
        if (j >= seq.start_position) return batch + (seq.first_row + j - seq.start_position) * kv_width + offset;
        return cached + (seq.slot * cache.capacity + j % cache.capacity) * kv_width + offset;
      };

      const float* qi = q + row * q_width + h * p.head_dim;
      const int64_t n_keys = position - first_key + 1;
      scores.resize(static_cast<size_t>(n_keys));
      float m = p.sinks.data[h];
      for (int64_t j = first_key; j <= position; ++j) {
        const float s = dot(qi, key_at(k, cache.keys, j), p.head_dim) * p.scale;
        scores[static_cast<size_t>(j - first_key)] = s;
        m = std::max(m, s);
      }
      float z = std::exp(p.sinks.data[h] - m);
      for (float& s : scores) {
        s = std::exp(s - m);
        z += s;
      }
      float* oi = out + row * q_width + h * p.head_dim;
      std::memset(oi, 0, sizeof(float) * static_cast<size_t>(p.head_dim));
      for (int64_t j = first_key; j <= position; ++j)
        axpy(scores[static_cast<size_t>(j - first_key)] / z, key_at(v, cache.values, j), oi, p.head_dim);
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
