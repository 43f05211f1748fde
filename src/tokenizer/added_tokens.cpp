#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace gptoss {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (const auto& token : tokens_) can_start_[static_cast<uint8_t>(token.content[0])] = true;
}

std::optional<AddedTokenMatcher::Match> AddedTokenMatcher::find(std::string_view text, size_t from,
                                                                bool allow_special) const {
  for (size_t i = from; i < text.size(); ++i) {
    if (!can_start_[static_cast<uint8_t>(text[i])]) continue;
    const std::string_view rest = text.substr(i);
    for (const auto& token : tokens_)
      if ((allow_special || !token.special) && rest.starts_with(token.content))
        return Match{i, token.content.size(), token.id};
  }
  return std::nullopt;
}

}  // namespace gptoss
