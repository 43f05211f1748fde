// Which KV blocks of one group hold a known token prefix, so that a new sequence can reuse them.
//
// A full block is named by a hash chain over its prefix: hash_i = chain(hash_{i−1}, tokens of
// block i), hash_{−1} = kRootHash. The entry also stores its parent hash and its own tokens, and
// find() compares both: a false match needs a 64-bit collision of the parent hash on top of equal
// tokens, which a strong mix makes negligible without keeping whole prefixes.
//
// A hashed block whose last reference goes away is parked: it keeps its data and its entry, in
// LRU order, until the pool needs memory and evicts the least recently used (its entry goes).
//
// Not thread-safe: it belongs to a KvPool, and so to the pool's one owner.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace gptoss {

class PrefixCache {
 public:
  static constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ULL;
  // The hash of a block holding `tokens` after the prefix named `parent`.
  static uint64_t chain(uint64_t parent, std::span<const int32_t> tokens);

  PrefixCache(int64_t blocks, int block_tokens);

  // The block registered under `hash` whose parent and tokens match, or −1.
  int32_t find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const;
  // Registers `block` (full, computed) under `hash`. False, changing nothing, when the hash is
  // already taken (another block holds the same prefix) or the block is already registered.
  bool insert(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);
  // Removes the block's entry (it is about to be overwritten); also unparks it.
  void forget(int32_t block);
  bool hashed(int32_t block) const { return entries_[static_cast<size_t>(block)].hashed; }

  // Parking: a hashed block without references stays cached, most recently used last.
  void park(int32_t block);
  void unpark(int32_t block);
  bool parked(int32_t block) const { return entries_[static_cast<size_t>(block)].parked; }
  // Takes the least recently used parked block out of the cache (entry removed): −1 if none.
  int32_t evict();
  int64_t parked_count() const { return static_cast<int64_t>(lru_.size()); }
  int64_t size() const { return static_cast<int64_t>(by_hash_.size()); }  // registered blocks

 private:
  struct Entry {
    bool hashed = false;
    bool parked = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    std::list<int32_t>::iterator lru;
  };
  std::span<const int32_t> tokens_of(int32_t block) const;

  int block_tokens_;
  std::vector<Entry> entries_;
  std::vector<int32_t> tokens_;  // [block, block_tokens]: each registered block's own tokens
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::list<int32_t> lru_;  // parked blocks, least recently used first
};

}  // namespace gptoss
