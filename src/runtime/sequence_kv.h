// One sequence's share of a KvPool: per KV group, a block table (table(g)[i] holds positions
// [i·block_tokens, (i+1)·block_tokens); −1 where a windowed group no longer keeps them) and the
// tokens it has computed, which name its full blocks in the prefix cache.
//
// A step goes: reserve(end) → the forward pass stores positions [length, end) through the
// tables and attends → commit(end, tokens). Blocks shared with other sequences (adopted
// prefixes, forks) are never written: reserve() copies a shared partial block first.
//
// THREAD SAFETY: none. A SequenceKv and its KvPool belong to one owner (a Session, or the
// scheduler); every SequenceKv of a pool must be used from the thread that owns the pool, and
// the pool must outlive them (their destructors give blocks back to it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "backend/batch_layout.h"
#include "runtime/kv_pool.h"

namespace gptoss {

class SequenceKv {
 public:
  explicit SequenceKv(KvPool& pool);
  ~SequenceKv();  // release()
  SequenceKv(SequenceKv&& other) noexcept;
  SequenceKv& operator=(SequenceKv&& other) noexcept;
  SequenceKv(const SequenceKv&) = delete;
  SequenceKv& operator=(const SequenceKv&) = delete;

  // Makes every group hold writable blocks for positions [length(), end). False, changing
  // nothing, when the pool cannot supply them (the caller preempts someone and retries).
  bool reserve(int32_t end);
  // Blocks reserve(end) would take from group g (the scheduler's admission arithmetic).
  int64_t blocks_to_reserve(int g, int32_t end) const;
  // Positions [length(), end) are computed; `tokens` are theirs (end − length() of them).
  // Registers the blocks this fills in the prefix cache, then releases windowed blocks that no
  // position ≥ end − window + 1 − rollback reads.
  void commit(int32_t end, std::span<const int32_t> tokens);
  // Forgets positions ≥ position (≤ length()) and frees blocks reserved past it. False, changing
  // nothing, when a windowed group no longer holds the positions that the next token at
  // `position` attends to (the pool's rollback option says how far back that is guaranteed).
  bool truncate(int32_t position);
  // On an empty sequence: takes the longest prefix of whole blocks of `prompt` that the prefix
  // cache holds in every group in a usable way (an unbounded group: all blocks below P; a
  // windowed one: the blocks covering [P − window + 1, P)), always leaving at least one token
  // to compute. Returns P, the number of tokens reused (= length() afterwards).
  int32_t adopt_prefix(std::span<const int32_t> prompt);
  // A new sequence with the same contents: full blocks shared, the partial last block copied.
  // nullopt when the pool has no block for a copy.
  std::optional<SequenceKv> fork();
  // Returns every block to the pool; the sequence is empty afterwards.
  void release();

  const std::vector<int32_t>& table(int g) const { return tables_.at(static_cast<size_t>(g)); }
  int32_t length() const { return length_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  int64_t blocks_held(int g) const;  // entries of table(g) that are not −1
  KvPool& pool() const { return *pool_; }

 private:
  bool window_intact(int g, int32_t position) const;

  KvPool* pool_;
  std::array<std::vector<int32_t>, kMaxKvGroups> tables_;
  std::array<size_t, kMaxKvGroups> dropped_{};  // leading entries already −1 (windowed groups)
  std::vector<int32_t> tokens_;    // of positions [0, length)
  std::vector<uint64_t> hashes_;   // of the full blocks below length
  int32_t length_ = 0;
};

}  // namespace gptoss
