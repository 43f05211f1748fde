// Byte-level BPE as Hugging Face's `BPE` model runs it (no dropout): with ignore_merges a piece
// found whole in the vocabulary is one token; otherwise it starts as one token per byte and the
// adjacent pair with the lowest merge rank is merged until no listed merge applies.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/bpe_tables.h"

namespace gptoss {

class BpeModel {
 public:
  // `vocab` maps token bytes to ids; `merges` are pairs of token bytes in rank order. Throws
  // gptoss::Error (prefixed with `origin`) for a byte without a token, a merge of unknown tokens
  // or an id given twice.
  BpeModel(std::vector<std::pair<std::string, int32_t>> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
           const std::string& origin);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Buffers for encode(), reused across the pieces of a text so that merging allocates rarely.
  struct Scratch {
    struct Symbol {
      int32_t id, prev, next;
      bool merged_away;
    };
    struct Candidate {
      int32_t rank, position, merged_id;
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
  };

  // Appends the tokens of one pre-tokenized piece (any bytes) to `out`. Thread-safe.
  void encode(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const;

  std::optional<int32_t> find(std::string_view bytes) const;
  // Every token as (bytes, id).
  const std::vector<std::pair<std::string, int32_t>>& tokens() const { return tokens_; }

 private:
  // Lets the cache be searched with a string_view, without building a key string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void merge(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const;

  std::vector<std::pair<std::string, int32_t>> tokens_;
  TokenIdTable ids_;  // keys in tokens_
  MergeTable merges_;
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_;

  // Results for pieces that needed merging: words recur, and merging is the slow path.
  static constexpr size_t kCacheCapacity = 1 << 16;
  static constexpr size_t kMaxCachedPiece = 256;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace gptoss
