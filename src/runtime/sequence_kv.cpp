#include "runtime/sequence_kv.h"

#include <algorithm>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

namespace {

int32_t ceil_div(int32_t a, int32_t b) { return (a + b - 1) / b; }

}  // namespace

SequenceKv::SequenceKv(KvPool& pool) : pool_(&pool) {}

SequenceKv::~SequenceKv() { release(); }

SequenceKv::SequenceKv(SequenceKv&& other) noexcept
    : pool_(other.pool_),
      tables_(std::move(other.tables_)),
      dropped_(other.dropped_),
      tokens_(std::move(other.tokens_)),
      hashes_(std::move(other.hashes_)),
      length_(other.length_) {
  other.tables_ = {};
  other.dropped_ = {};
  other.tokens_.clear();
  other.hashes_.clear();
  other.length_ = 0;
}

SequenceKv& SequenceKv::operator=(SequenceKv&& other) noexcept {
  if (this == &other) return *this;
  release();
  pool_ = other.pool_;
  tables_ = std::move(other.tables_);
  dropped_ = other.dropped_;
  tokens_ = std::move(other.tokens_);
  hashes_ = std::move(other.hashes_);
  length_ = other.length_;
  other.tables_ = {};
  other.dropped_ = {};
  other.tokens_.clear();
  other.hashes_.clear();
  other.length_ = 0;
  return *this;
}

void SequenceKv::release() {
  for (int g = 0; g < pool_->groups(); ++g) {
    auto& table = tables_[static_cast<size_t>(g)];
    for (int32_t b : table)
      if (b >= 0) pool_->release(g, b);
    table.clear();
    dropped_[static_cast<size_t>(g)] = 0;
  }
  tokens_.clear();
  hashes_.clear();
  length_ = 0;
}

int64_t SequenceKv::blocks_held(int g) const {
  const auto& t = table(g);
  return std::count_if(t.begin(), t.end(), [](int32_t b) { return b >= 0; });
}

// Missing blocks, plus a copy of a block shared with another sequence (only the partial block at
// length can be: later ones are this sequence's own).
int64_t SequenceKv::blocks_to_reserve(int g, int32_t end) const {
  const auto& table = tables_[static_cast<size_t>(g)];
  const int32_t bt = pool_->block_tokens();
  int64_t needed = 0;
  for (int32_t i = length_ / bt; i < ceil_div(end, bt); ++i) {
    const auto at = static_cast<size_t>(i);
    if (at >= table.size() || table[at] < 0 || pool_->refcount(g, table[at]) > 1) ++needed;
  }
  return needed;
}

bool SequenceKv::reserve(int32_t end) {
  if (end <= length_) return true;
  for (int g = 0; g < pool_->groups(); ++g)
    if (blocks_to_reserve(g, end) > pool_->free_blocks(g)) return false;
  const int32_t bt = pool_->block_tokens();
  for (int g = 0; g < pool_->groups(); ++g) {
    auto& table = tables_[static_cast<size_t>(g)];
    if (table.size() < static_cast<size_t>(ceil_div(end, bt))) table.resize(static_cast<size_t>(ceil_div(end, bt)), -1);
    for (int32_t i = length_ / bt; i < ceil_div(end, bt); ++i) {
      int32_t& block = table[static_cast<size_t>(i)];
      if (block < 0) {
        block = pool_->allocate(g);
      } else if (pool_->refcount(g, block) > 1) {
        // Copy on write: the shared block keeps its contents for the others.
        const int32_t copy = pool_->allocate(g);
        pool_->copy_block(g, block, copy, i == length_ / bt ? length_ % bt : 0);
        pool_->release(g, block);
        block = copy;
      } else {
        // Ours alone, but about to be overwritten past length: its prefix hash no longer holds.
        pool_->prefix_cache(g).forget(block);
      }
      if (block < 0) throw Error("KV pool: a counted free block was not there");
    }
  }
  return true;
}

void SequenceKv::commit(int32_t end, std::span<const int32_t> tokens) {
  const int32_t bt = pool_->block_tokens();
  if (end < length_ || tokens.size() != static_cast<size_t>(end - length_))
    throw Error("SequenceKv::commit: " + std::to_string(tokens.size()) + " tokens for positions " +
                std::to_string(length_) + ".." + std::to_string(end));
  // What reserve() guarantees: the blocks written are there, ours alone and unhashed. Anything
  // else means a write went to a block that others read (or a stale prefix entry would stay).
  for (int g = 0; g < pool_->groups(); ++g) {
    const auto& table = tables_[static_cast<size_t>(g)];
    for (int32_t i = length_ / bt; i < ceil_div(end, bt); ++i) {
      const int32_t block = static_cast<size_t>(i) < table.size() ? table[static_cast<size_t>(i)] : -1;
      if (block < 0 || pool_->refcount(g, block) != 1 || pool_->prefix_cache(g).hashed(block))
        throw Error("SequenceKv::commit: positions " + std::to_string(length_) + ".." + std::to_string(end) +
                    " were not reserved");
    }
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  length_ = end;

  // Every block this completes gets its prefix hash, in each group that still holds it.
  for (auto i = static_cast<int32_t>(hashes_.size()); i < length_ / bt; ++i) {
    const uint64_t parent = i == 0 ? PrefixCache::kRootHash : hashes_.back();
    const auto block_tokens = std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(i * bt), static_cast<size_t>(bt));
    hashes_.push_back(PrefixCache::chain(parent, block_tokens));
    for (int g = 0; g < pool_->groups(); ++g) {
      const int32_t block = tables_[static_cast<size_t>(g)][static_cast<size_t>(i)];
      if (block >= 0 && !pool_->prefix_cache(g).hashed(block))
        pool_->prefix_cache(g).insert(block, hashes_.back(), parent, block_tokens);
    }
  }

  // Windowed groups let go of blocks before the first position a later token (or a rollback) reads.
  for (int g = 0; g < pool_->groups(); ++g) {
    if (pool_->window(g) == 0) continue;
    const int32_t lowest = length_ - pool_->window(g) + 1 - pool_->rollback();
    if (lowest <= 0) continue;
    auto& table = tables_[static_cast<size_t>(g)];
    auto& dropped = dropped_[static_cast<size_t>(g)];
    const size_t drop_to = std::min(static_cast<size_t>(lowest / bt), table.size());
    for (; dropped < drop_to; ++dropped) {
      if (table[dropped] >= 0) pool_->release(g, table[dropped]);
      table[dropped] = -1;
    }
  }
}

bool SequenceKv::window_intact(int g, int32_t position) const {
  const int32_t window = pool_->window(g);
  if (window == 0) return true;
  const int32_t bt = pool_->block_tokens();
  const auto& table = tables_[static_cast<size_t>(g)];
  for (int32_t i = std::max(0, position - window + 1) / bt; i < ceil_div(position, bt); ++i)
    if (table[static_cast<size_t>(i)] < 0) return false;
  return true;
}

bool SequenceKv::truncate(int32_t position) {
  if (position < 0 || position > length_)
    throw Error("SequenceKv::truncate: position " + std::to_string(position) + " outside 0.." + std::to_string(length_));
  for (int g = 0; g < pool_->groups(); ++g)
    if (!window_intact(g, position)) return false;
  const auto keep = static_cast<size_t>(ceil_div(position, pool_->block_tokens()));
  for (int g = 0; g < pool_->groups(); ++g) {
    auto& table = tables_[static_cast<size_t>(g)];
    for (size_t i = keep; i < table.size(); ++i)
      if (table[i] >= 0) pool_->release(g, table[i]);
    if (table.size() > keep) table.resize(keep);
    dropped_[static_cast<size_t>(g)] = std::min(dropped_[static_cast<size_t>(g)], table.size());
  }
  tokens_.resize(static_cast<size_t>(position));
  hashes_.resize(static_cast<size_t>(position / pool_->block_tokens()));
  length_ = position;
  return true;
}

int32_t SequenceKv::adopt_prefix(std::span<const int32_t> prompt) {
  if (length_ != 0 || !tables_[0].empty() || !tables_[1].empty())
    throw Error("SequenceKv::adopt_prefix: the sequence is not empty");
  const int32_t bt = pool_->block_tokens();
  const int32_t n = static_cast<int32_t>(prompt.size());
  const int32_t max_blocks = n > 0 ? (n - 1) / bt : 0;  // one token at least stays to compute
  std::vector<uint64_t> hashes;
  std::array<std::vector<int32_t>, kMaxKvGroups> found;
  // An unbounded group needs every block below P, so its first miss ends the search.
  bool unbounded_missed = false;
  for (int32_t i = 0; i < max_blocks && !unbounded_missed; ++i) {
    const uint64_t parent = i == 0 ? PrefixCache::kRootHash : hashes.back();
    const auto tokens = prompt.subspan(static_cast<size_t>(i * bt), static_cast<size_t>(bt));
    const uint64_t hash = PrefixCache::chain(parent, tokens);
    for (int g = 0; g < pool_->groups(); ++g) {
      const int32_t block = pool_->prefix_cache(g).find(hash, parent, tokens);
      unbounded_missed |= block < 0 && pool_->window(g) == 0;
      found[static_cast<size_t>(g)].push_back(block);
    }
    hashes.push_back(hash);
  }
  if (unbounded_missed) hashes.pop_back();  // the missing block, and the search's limit
  // First block group g needs for a prefix of k blocks (the window's start; 0 when unbounded).
  auto first_needed = [&](int g, int32_t k) {
    const int32_t window = pool_->window(g);
    return window == 0 ? 0 : std::max(0, k * bt - window + 1) / bt;
  };
  // Only the windowed groups need checking: the unbounded ones hold every block below hashes.size().
  auto usable = [&](int32_t k) {
    for (int g = 0; g < pool_->groups(); ++g)
      for (int32_t i = first_needed(g, k); i < k && pool_->window(g) > 0; ++i)
        if (found[static_cast<size_t>(g)][static_cast<size_t>(i)] < 0) return false;
    return true;
  };
  auto k = static_cast<int32_t>(hashes.size());
  while (k > 0 && !usable(k)) --k;
  if (k == 0) return 0;

  for (int g = 0; g < pool_->groups(); ++g) {
    auto& table = tables_[static_cast<size_t>(g)];
    const auto& blocks = found[static_cast<size_t>(g)];
    table.assign(static_cast<size_t>(k), -1);
    int32_t first = first_needed(g, k);
    // Cached blocks the rollback could go back to come along too, as commit() would keep them.
    const int32_t rollback_first = pool_->window(g) == 0 ? 0 : std::max(0, k * bt - pool_->window(g) + 1 - pool_->rollback()) / bt;
    while (first > rollback_first && blocks[static_cast<size_t>(first - 1)] >= 0) --first;
    for (int32_t i = first; i < k; ++i) {
      pool_->retain(g, blocks[static_cast<size_t>(i)]);
      table[static_cast<size_t>(i)] = blocks[static_cast<size_t>(i)];
    }
    dropped_[static_cast<size_t>(g)] = static_cast<size_t>(first);
  }
  length_ = k * bt;
  tokens_.assign(prompt.begin(), prompt.begin() + length_);
  hashes.resize(static_cast<size_t>(k));
  hashes_ = std::move(hashes);
  return length_;
}

std::optional<SequenceKv> SequenceKv::fork() {
  const int32_t bt = pool_->block_tokens();
  const auto full = static_cast<size_t>(length_ / bt);
  const bool partial = length_ % bt != 0;
  for (int g = 0; g < pool_->groups(); ++g)
    if (partial && pool_->free_blocks(g) < 1) return std::nullopt;
  SequenceKv child(*pool_);
  for (int g = 0; g < pool_->groups(); ++g) {
    const auto& table = tables_[static_cast<size_t>(g)];
    auto& copy = child.tables_[static_cast<size_t>(g)];
    copy.assign(table.begin(), table.begin() + static_cast<int64_t>(full));
    for (int32_t b : copy)
      if (b >= 0) pool_->retain(g, b);
    if (partial) {
      const int32_t block = pool_->allocate(g);
      pool_->copy_block(g, table[full], block, length_ % bt);
      copy.push_back(block);
    }
    child.dropped_[static_cast<size_t>(g)] = std::min(dropped_[static_cast<size_t>(g)], copy.size());
  }
  child.tokens_ = tokens_;
  child.hashes_ = hashes_;
  child.length_ = length_;
  return child;
}

}  // namespace gptoss
