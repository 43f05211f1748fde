// The paged KV cache: every layer's keys and values live in fixed-size blocks of block_tokens
// positions, handed to sequences through block tables (see SequenceKv) and shared between them
// by reference counts (forks, reused prompt prefixes).
//
// Layers are grouped by what they keep, and each group has its own blocks and block ids:
//   group 0: the full-attention layers (window = max_kv_size, or 0 = every position);
//   group 1: the sliding-window layers (window = sliding_window).
// A config with one kind of layer has one group.
//
// THREAD SAFETY: none. A KvPool and the SequenceKvs drawing from it belong to one owner (a
// Session, or the scheduler) and must only be used from one thread at a time. The kernels read
// and write the blocks' memory during a step; that is the owner's to order with these calls.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/buffer.h"
#include "gptoss/config.h"
#include "runtime/prefix_cache.h"

namespace gptoss {

struct KvPoolOptions {
  ElementType dtype = ElementType::bf16;
  int block_tokens = 32;     // 16..32
  int max_kv_size = 0;       // > 0: the full layers keep only the last max_kv_size positions too
  int64_t memory_bytes = 0;  // for all blocks of all layers
  int max_sequences = 1;     // sequences that hold blocks at once
  // Tokens one step may add over all sequences (the largest prefill chunk included): the
  // windowed groups are sized for it, and a larger step's reserve() may never succeed.
  int max_step_tokens = 512;
  int rollback = 0;          // positions a sequence may later go back (windowed groups keep them)
};

// How memory_bytes is split (KvPool::plan). Every windowed group gets
//   required = max_sequences · (ceil((window − 1 + rollback) / bt) + 2) + ceil(max_step_tokens / bt)
// blocks: after a step a sequence reads its last window − 1 positions plus rollback, which span at
// most ceil(…)+1 blocks; during a step its new tokens' blocks are held too before the ones that
// leave the window are released (ceil(step/bt) over all sequences, +1 per sequence for a step
// that straddles a block boundary), plus
//   headroom = max_sequences · (ceil((window − 1) / bt) + 1)
// blocks (one more window per sequence), so that the window blocks of cached prefixes survive
// for reuse. The unbounded group (if any) takes all the rest, and must get at least
// max_sequences + ceil(max_step_tokens / bt) blocks. Without an unbounded group the rest is
// split between the windowed groups in proportion to their required bytes (more prefix cache).
// A config that cannot meet this throws gptoss::Error.
struct KvGroupPlan {
  int window = 0;               // 0: every position
  std::vector<int> layers;      // model layer indices, ascending
  int64_t bytes_per_block = 0;  // keys and values of all its layers
  int64_t required_blocks = 0;  // the minimum above (unbounded: max_sequences + step blocks)
  int64_t blocks = 0;           // what it gets
};

class KvPool {
 public:
  KvPool(DeviceMemory& memory, const ModelConfig& config, const KvPoolOptions& options);
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  // The grouping and memory split this pool would use, without allocating anything.
  static std::vector<KvGroupPlan> plan(const ModelConfig& config, const KvPoolOptions& options);
  // memory_bytes for a pool whose windowed groups get what plan() gives them first (their need
  // and headroom) and whose unbounded group holds tokens_per_sequence positions of every
  // sequence (options.memory_bytes is ignored).
  static int64_t bytes_for(const ModelConfig& config, const KvPoolOptions& options, int64_t tokens_per_sequence);

  int groups() const { return static_cast<int>(groups_.size()); }
  int group_of_layer(int layer) const { return layer_group_.at(static_cast<size_t>(layer)); }
  const std::vector<int>& layers_of_group(int g) const { return group(g).layers; }
  int window(int g) const { return group(g).window; }  // 0: keeps every position
  // Every group is windowed (max_kv_size > 0): a sequence's memory is bounded however long it gets.
  bool bounded() const;
  KvLayerView layer(int l) const;
  int block_tokens() const { return options_.block_tokens; }
  int rollback() const { return options_.rollback; }
  int64_t kv_width() const { return kv_width_; }
  int64_t bytes_per_token() const;  // keys and values of all layers
  int64_t bytes_per_block(int g) const { return group(g).bytes_per_block; }

  int64_t total_blocks(int g) const { return group(g).blocks; }
  int64_t free_blocks(int g) const;    // never used or released, plus cached but unreferenced
  int64_t cached_blocks(int g) const;  // unreferenced blocks kept by the prefix cache
  int refcount(int g, int32_t block) const { return group(g).refs.at(static_cast<size_t>(block)); }

  // A block with one reference, or −1 when none is left. Fresh blocks come first; then the
  // least recently used cached block is evicted.
  int32_t allocate(int g);
  void retain(int g, int32_t block);  // also takes a cached block back out of the LRU
  // Drops one reference; at zero a block with a prefix hash is cached, any other is freed.
  void release(int g, int32_t block);

  PrefixCache& prefix_cache(int g) { return group(g).cache; }
  const PrefixCache& prefix_cache(int g) const { return group(g).cache; }
  // Copies the first `tokens` positions of block `from` to block `to`, in every layer of g.
  void copy_block(int g, int32_t from, int32_t to, int tokens);

  // Throws gptoss::Error when the bookkeeping is inconsistent (free, cached and referenced
  // blocks must partition each group). For tests.
  void check_invariants() const;

 private:
  struct Group {
    int window = 0;
    std::vector<int> layers;
    int64_t bytes_per_block = 0;
    int64_t blocks = 0;
    std::vector<int32_t> refs;
    std::vector<int32_t> free;  // fresh blocks, popped from the back (lowest ids first)
    PrefixCache cache;
  };
  struct Layer {
    Buffer keys, values;
  };
  Group& group(int g) { return groups_.at(static_cast<size_t>(g)); }
  const Group& group(int g) const { return groups_.at(static_cast<size_t>(g)); }

  DeviceMemory& memory_;
  KvPoolOptions options_;
  int64_t kv_width_;
  std::vector<Group> groups_;
  std::vector<int> layer_group_;
  std::vector<Layer> layers_;
};

}  // namespace gptoss
