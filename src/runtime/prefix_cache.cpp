#include "runtime/prefix_cache.h"

#include <algorithm>

#include "gptoss/error.h"

namespace gptoss {

namespace {

// splitmix64's finalizer: a bijection with full avalanche, so absorbing one value per step
// keeps the chain collision-resistant for non-adversarial inputs.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t PrefixCache::chain(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) h = mix64(h + 0x9e3779b97f4a7c15ULL + static_cast<uint32_t>(t));
  return mix64(h ^ tokens.size());
}

PrefixCache::PrefixCache(int64_t blocks, int block_tokens)
    : block_tokens_(block_tokens),
      entries_(static_cast<size_t>(blocks)),
      tokens_(static_cast<size_t>(blocks * block_tokens)) {}

std::span<const int32_t> PrefixCache::tokens_of(int32_t block) const {
  return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(block) * static_cast<size_t>(block_tokens_),
                                                   static_cast<size_t>(block_tokens_));
}

int32_t PrefixCache::find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  const Entry& e = entries_[static_cast<size_t>(it->second)];
  if (e.parent != parent || tokens.size() != static_cast<size_t>(block_tokens_)) return -1;
  const auto own = tokens_of(it->second);
  return std::equal(own.begin(), own.end(), tokens.begin()) ? it->second : -1;
}

bool PrefixCache::insert(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) {
  if (tokens.size() != static_cast<size_t>(block_tokens_)) throw Error("prefix cache: a block's tokens must fill it");
  Entry& e = entries_[static_cast<size_t>(block)];
  if (e.hashed || by_hash_.contains(hash)) return false;
  by_hash_.emplace(hash, block);
  e.hashed = true;
  e.hash = hash;
  e.parent = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<int64_t>(block) * block_tokens_);
  return true;
}

void PrefixCache::forget(int32_t block) {
  Entry& e = entries_[static_cast<size_t>(block)];
  if (!e.hashed) return;
  unpark(block);
  by_hash_.erase(e.hash);
  e.hashed = false;
}

void PrefixCache::park(int32_t block) {
  Entry& e = entries_[static_cast<size_t>(block)];
  if (!e.hashed || e.parked) throw Error("prefix cache: only a registered, unparked block can be parked");
  e.lru = lru_.insert(lru_.end(), block);
  e.parked = true;
}

void PrefixCache::unpark(int32_t block) {
  Entry& e = entries_[static_cast<size_t>(block)];
  if (!e.parked) return;
  lru_.erase(e.lru);
  e.parked = false;
}

int32_t PrefixCache::evict() {
  if (lru_.empty()) return -1;
  const int32_t block = lru_.front();
  forget(block);
  return block;
}

}  // namespace gptoss
