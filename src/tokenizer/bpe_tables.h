// The BPE model's two lookups as open-addressing hash tables: token bytes → id, and token pair →
// merge. Loading o200k resolves ~1.3M token strings; std::unordered_map's node per entry costs
// extra cache misses on each of them, which was half the load time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gptoss {

// Keys are the strings of a token list that must outlive the table (and not move).
class TokenIdTable {
 public:
  explicit TokenIdTable(const std::vector<std::pair<std::string, int32_t>>& tokens);
  // nullopt if every token was added; otherwise the index of an earlier token with the same bytes.
  std::optional<size_t> duplicate() const { return duplicate_; }
  std::optional<int32_t> find(std::string_view bytes) const;

 private:
  struct Slot {
    uint32_t hash;  // low bits of the full hash, to skip most string comparisons
    int32_t index;  // into tokens; -1: empty
  };
  const std::vector<std::pair<std::string, int32_t>>& tokens_;
  std::vector<Slot> slots_;
  size_t mask_;
  std::optional<size_t> duplicate_;
};

struct BpeMerge {
  int32_t rank;
  int32_t merged_id;
};

class MergeTable {
 public:
  explicit MergeTable(size_t count);  // room for `count` pairs
  void insert_or_assign(int32_t left, int32_t right, BpeMerge merge);
  const BpeMerge* find(int32_t left, int32_t right) const;

 private:
  struct Slot {
    uint64_t key;  // left << 32 | right; kEmpty when free
    BpeMerge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  size_t position(uint64_t key) const;
  std::vector<Slot> slots_;
  size_t mask_;
};

}  // namespace gptoss
