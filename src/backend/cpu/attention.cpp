#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/kv_blocks.h"
#include "quant/float_formats.h"

namespace gptoss {

namespace {

// Calls run(first_position, count, element, next_block) for the keys [first, last] of `seq` in
// position order, one run per stretch of consecutive positions that are also consecutive in
// memory (a block, or several blocks whose ids follow each other); element = the run's first
// key's index in the cache, in elements of the cache's dtype (kv head 0); next_block = the
// block of the next run (−1 after the last). Every block must exist.
template <class Run>
void for_each_run(const BatchLayout& layout, const BatchLayout::Sequence& seq, const KvLayerView& cache,
                  int64_t first, int64_t last, Run&& run) {
  const int64_t bt = cache.block_tokens;
  const int32_t* table = layout.block_tables.data() + seq.table_offset[static_cast<size_t>(cache.group)];
  for (int64_t j = first; j <= last;) {
    const int64_t block = table[j / bt];
    int64_t end = std::min(last + 1, (j / bt + 1) * bt);  // one past this run's last position
    for (int64_t next = block + 1; end <= last && table[end / bt] == next; ++next)
      end = std::min(last + 1, end + bt);
    // The next run starts a block boundary: its block, for the caller to prefetch (−1: none).
    const int64_t next_block = end <= last ? table[end / bt] : -1;
    run(j, end - j, (block * bt + j % bt) * cache.kv_width, next_block);
    j = end;
  }
}

}  // namespace

void store_kv(const float* k, const float* v, const BatchLayout& layout, const KvLayerView& cache) {
  check_kv_view(cache, "store_kv");
  const int64_t width = cache.kv_width;
  for (size_t s = 0; s < layout.sequences.size(); ++s) {
    const auto& seq = layout.sequences[s];
    for (int64_t row = seq.first_row; row < seq.first_row + seq.rows; ++row) {
      const int64_t position = layout.positions[static_cast<size_t>(row)];
      const int64_t block = kv_block_of(layout, seq, cache, position);
      if (block < 0) throw_missing_kv_block("store_kv", s, position, cache);
      const int64_t at = (block * cache.block_tokens + position % cache.block_tokens) * width;
      const float* key = k + row * width;
      const float* value = v + row * width;
      if (cache.dtype == ElementType::f32) {
        std::memcpy(static_cast<float*>(cache.keys) + at, key, sizeof(float) * static_cast<size_t>(width));
        std::memcpy(static_cast<float*>(cache.values) + at, value, sizeof(float) * static_cast<size_t>(width));
      } else {
        uint16_t* key_out = static_cast<uint16_t*>(cache.keys) + at;
        uint16_t* value_out = static_cast<uint16_t*>(cache.values) + at;
        for (int64_t c = 0; c < width; ++c) {
          key_out[c] = f32_to_bf16(key[c]);
          value_out[c] = f32_to_bf16(value[c]);
        }
      }
    }
  }
}

void attention_rows(const float* q, const BatchLayout& layout, const KvLayerView& cache, const AttentionParameters& p,
                    float* out, ThreadPool& pool, const CpuKernels& kernels) {
  check_kv_view(cache, "attention");
  check_attention_shape(p, cache);
  const int64_t q_width = static_cast<int64_t>(p.heads) * p.head_dim;
  const int64_t kv_width = cache.kv_width;
  const int group = p.heads / p.kv_heads;
  const bool bf16 = cache.dtype == ElementType::bf16;
  // The hardware prefetcher follows the stride within a block but not the jump to the next
  // one: the loop below asks for the next block's rows of its head while it computes one.
  const int64_t value_bytes = element_bytes(cache.dtype);
  const int64_t row_bytes = kv_width * value_bytes;  // one position, all kv heads
  const int64_t head_bytes = p.head_dim * value_bytes;
  const int64_t block_bytes = cache.block_tokens * row_bytes;
  // Every block the rows read must exist; checked here so that the loop below (on the pool's
  // threads) cannot fail.
  check_attended_blocks(layout, cache, p.window, "attention");
  std::vector<int> sequence_of_row(static_cast<size_t>(layout.rows()));
  for (size_t s = 0; s < layout.sequences.size(); ++s) {
    const auto& seq = layout.sequences[s];
    for (int64_t r = 0; r < seq.rows; ++r) sequence_of_row[static_cast<size_t>(seq.first_row + r)] = static_cast<int>(s);
  }

  // One item = one query row and one kv head: its `group` query heads share every key and
  // value, which are read once for all of them.
  pool.parallel_for(layout.rows() * p.kv_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    std::vector<float>& scores = pool.scratch(thread);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / p.kv_heads;
      const int kv_head = static_cast<int>(item % p.kv_heads);
      const auto& seq = layout.sequences[static_cast<size_t>(sequence_of_row[static_cast<size_t>(row)])];
      const int64_t position = layout.positions[static_cast<size_t>(row)];
      const int64_t first_key = first_key_of(position, p.window);
      const int64_t n_keys = position - first_key + 1;
      const int64_t head_offset = static_cast<int64_t>(kv_head) * p.head_dim;

      const float* q_group = q + row * q_width + kv_head * group * p.head_dim;
      float* out_group = out + row * q_width + kv_head * group * p.head_dim;
      scores.resize(static_cast<size_t>(group * (n_keys + 1)));
      auto prefetch_block = [&](const void* base, int64_t block) {
        if (block < 0) return;
        const char* at = static_cast<const char*>(base) + block * block_bytes + head_offset * value_bytes;
        for (int t = 0; t < cache.block_tokens; ++t)
          for (int64_t b = 0; b < head_bytes; b += 64) __builtin_prefetch(at + t * row_bytes + b);
      };
      for_each_run(layout, seq, cache, first_key, position, [&](int64_t j, int64_t count, int64_t element, int64_t next) {
        prefetch_block(cache.keys, next);
        float* s = scores.data() + (j - first_key);
        if (bf16)
          kernels.dot_products_bf16(q_group, group, p.head_dim, static_cast<const uint16_t*>(cache.keys) + element + head_offset,
                                    count, kv_width, p.head_dim, s, n_keys);
        else
          kernels.dot_products(q_group, group, p.head_dim, static_cast<const float*>(cache.keys) + element + head_offset,
                               count, kv_width, p.head_dim, s, n_keys);
      });
      // Unnormalized probabilities exp(s_j − m), and Z per head; out is divided by Z at the end.
      float* z = scores.data() + group * n_keys;
      kernels.attention_softmax(scores.data(), group, n_keys, n_keys, p.scale, p.sinks.data + kv_head * group, z);
      std::memset(out_group, 0, sizeof(float) * static_cast<size_t>(group * p.head_dim));
      for_each_run(layout, seq, cache, first_key, position, [&](int64_t j, int64_t count, int64_t element, int64_t next) {
        prefetch_block(cache.values, next);
        const float* s = scores.data() + (j - first_key);
        if (bf16)
          kernels.weighted_sum_bf16(s, group, n_keys, static_cast<const uint16_t*>(cache.values) + element + head_offset,
                                    count, kv_width, p.head_dim, out_group, p.head_dim);
        else
          kernels.weighted_sum(s, group, n_keys, static_cast<const float*>(cache.values) + element + head_offset, count,
                               kv_width, p.head_dim, out_group, p.head_dim);
      });
      for (int h = 0; h < group; ++h) {
        const float inverse = 1.f / z[h];
        for (int c = 0; c < p.head_dim; ++c) out_group[h * p.head_dim + c] *= inverse;
      }
    }
  });
}

}  // namespace gptoss
