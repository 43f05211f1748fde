// Finds added tokens (gpt-oss: the harmony control tokens such as "<|start|>") in raw text before
// pre-tokenization, as Hugging Face's AddedVocabulary does: leftmost match first, and of the
// tokens matching there the longest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace gptoss {

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  struct Match {
    size_t position;
    size_t length;
    int32_t id;
  };
  // The first match in `text` at or after `from`. Special tokens take part only if
  // `allow_special` (Hugging Face's split_special_tokens turns them off the same way).
  std::optional<Match> find(std::string_view text, size_t from, bool allow_special) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;    // longest first
  std::array<bool, 256> can_start_{};  // first bytes of the tokens
};

}  // namespace gptoss
