#include "backend/kv_blocks.h"

#include <string>

#include "gptoss/error.h"

namespace gptoss {

void check_kv_view(const KvLayerView& cache, const char* what) {
  if (cache.dtype != ElementType::f32 && cache.dtype != ElementType::bf16)
    throw Error(std::string(what) + ": KV cache dtype " + element_type_name(cache.dtype) + " is not supported (f32, bf16)");
  if (cache.block_tokens <= 0 || cache.group < 0 || cache.group >= kMaxKvGroups)
    throw Error(std::string(what) + ": bad KV layer view (block_tokens " + std::to_string(cache.block_tokens) +
                ", group " + std::to_string(cache.group) + ")");
}

void check_attention_shape(const AttentionParameters& p, const KvLayerView& cache) {
  if (p.kv_heads <= 0 || p.heads % p.kv_heads != 0 || p.head_dim % 32 != 0 ||
      cache.kv_width != static_cast<int64_t>(p.kv_heads) * p.head_dim || p.sinks.size < p.heads)
    throw Error("attention: unsupported shape (heads " + std::to_string(p.heads) + ", kv_heads " +
                std::to_string(p.kv_heads) + ", head_dim " + std::to_string(p.head_dim) + ", kv_width " +
                std::to_string(cache.kv_width) + ", " + std::to_string(p.sinks.size) + " sinks)");
}

int64_t kv_block_of(const BatchLayout& layout, const BatchLayout::Sequence& seq, const KvLayerView& cache,
                    int64_t position) {
  const int64_t i = position / cache.block_tokens;
  if (position < 0 || i >= seq.table_length[static_cast<size_t>(cache.group)]) return -1;
  const int64_t block =
      layout.block_tables[static_cast<size_t>(seq.table_offset[static_cast<size_t>(cache.group)] + i)];
  return block < cache.blocks ? block : -1;
}

void throw_missing_kv_block(const char* what, size_t sequence, int64_t position, const KvLayerView& cache) {
  throw Error(std::string(what) + ": sequence " + std::to_string(sequence) + " has no block of group " +
              std::to_string(cache.group) + " for position " + std::to_string(position) +
              " (its block table entry is −1 or missing)");
}

void check_attended_blocks(const BatchLayout& layout, const KvLayerView& cache, int window, const char* what) {
  for (size_t s = 0; s < layout.sequences.size(); ++s) {
    const auto& seq = layout.sequences[s];
    if (seq.rows <= 0) continue;
    // Positions are consecutive: the first row's window to the last row covers every read.
    const int64_t first = first_key_of(layout.positions[static_cast<size_t>(seq.first_row)], window);
    const int64_t last = layout.positions[static_cast<size_t>(seq.first_row + seq.rows - 1)];
    for (int64_t j = first; j <= last; j = (j / cache.block_tokens + 1) * cache.block_tokens)
      if (kv_block_of(layout, seq, cache, j) < 0) throw_missing_kv_block(what, s, j, cache);
  }
}

}  // namespace gptoss
