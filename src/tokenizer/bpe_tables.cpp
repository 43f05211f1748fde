#include "tokenizer/bpe_tables.h"

#include <bit>
#include <functional>

namespace gptoss {

namespace {

// A power of two with at least half of it free, so that linear probes stay short.
size_t table_size(size_t count) { return std::bit_ceil(2 * count + 2); }

}  // namespace

TokenIdTable::TokenIdTable(const std::vector<std::pair<std::string, int32_t>>& tokens)
    : tokens_(tokens), slots_(table_size(tokens.size()), Slot{0, -1}), mask_(slots_.size() - 1) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t hash = std::hash<std::string_view>{}(tokens[i].first);
    for (size_t p = hash & mask_;; p = (p + 1) & mask_) {
      Slot& slot = slots_[p];
      if (slot.index < 0) {
        slot = {static_cast<uint32_t>(hash), static_cast<int32_t>(i)};
        break;
      }
      if (slot.hash == static_cast<uint32_t>(hash) && tokens_[static_cast<size_t>(slot.index)].first == tokens[i].first) {
        if (!duplicate_) duplicate_ = static_cast<size_t>(slot.index);
        break;
      }
    }
  }
}

std::optional<int32_t> TokenIdTable::find(std::string_view bytes) const {
  const size_t hash = std::hash<std::string_view>{}(bytes);
  for (size_t p = hash & mask_;; p = (p + 1) & mask_) {
    const Slot& slot = slots_[p];
    if (slot.index < 0) return std::nullopt;
    const auto& token = tokens_[static_cast<size_t>(slot.index)];
    if (slot.hash == static_cast<uint32_t>(hash) && token.first == bytes) return token.second;
  }
}

MergeTable::MergeTable(size_t count) : slots_(table_size(count), Slot{kEmpty, {}}), mask_(slots_.size() - 1) {}

size_t MergeTable::position(uint64_t key) const {
  // Fibonacci hashing: ids are small and dense, so spread them with a multiplicative hash.
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
}

void MergeTable::insert_or_assign(int32_t left, int32_t right, BpeMerge merge) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  for (size_t p = position(key);; p = (p + 1) & mask_) {
    Slot& slot = slots_[p];
    if (slot.key == kEmpty || slot.key == key) {
      slot = {key, merge};
      return;
    }
  }
}

const BpeMerge* MergeTable::find(int32_t left, int32_t right) const {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  for (size_t p = position(key);; p = (p + 1) & mask_) {
    const Slot& slot = slots_[p];
    if (slot.key == key) return &slot.merge;
    if (slot.key == kEmpty) return nullptr;
  }
}

}  // namespace gptoss
