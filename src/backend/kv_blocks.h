// Where a sequence's keys and values live in a paged KV cache, and the checks every backend runs
// before it stores or reads them: a bad view or a missing block is a gptoss::Error, named by
// the sequence and position, before any work starts.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace gptoss {

// Throws unless the cache's dtype is f32 or bf16 and its block size and group are usable.
// `what` names the caller in the message.
void check_kv_view(const KvLayerView& cache, const char* what);

// Throws unless heads are a multiple of kv_heads, head_dim a multiple of 32 (the kernels'
// chunk), kv_width = kv_heads · head_dim and there is a sink per head.
void check_attention_shape(const AttentionParameters& p, const KvLayerView& cache);

// The block of `cache` that holds `position` of sequence `seq`, or −1 when the sequence's table
// has none (a −1 entry, past the table's end, or out of the pool).
int64_t kv_block_of(const BatchLayout& layout, const BatchLayout::Sequence& seq, const KvLayerView& cache,
                    int64_t position);

[[noreturn]] void throw_missing_kv_block(const char* what, size_t sequence, int64_t position, const KvLayerView& cache);

// The first key a query at `position` attends to: window 0 is full causal attention.
inline int64_t first_key_of(int64_t position, int window) {
  return window > 0 ? (position - window + 1 > 0 ? position - window + 1 : 0) : 0;
}

// Throws unless every position some row of the batch attends to (its window, its own position
// included) has a block: what attention reads and store_kv writes.
void check_attended_blocks(const BatchLayout& layout, const KvLayerView& cache, int window, const char* what);

}  // namespace gptoss
