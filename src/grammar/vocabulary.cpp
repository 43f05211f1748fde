#include "grammar/vocabulary.h"

#include <algorithm>
#include <optional>

#include "gptoss/error.h"
#include "grammar/string_scanner.h"

namespace gptoss::grammar {
namespace {

std::vector<std::string> tokenizer_tokens(const Tokenizer& tokenizer) {
  std::vector<std::string> tokens(static_cast<size_t>(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_special(id)) continue;
    try {
      tokens[static_cast<size_t>(id)] = tokenizer.token_bytes(id);
    } catch (const Error&) {
      // an id between the added tokens that the tokenizer does not define: never allowed
    }
  }
  return tokens;
}

// The characters of a plain-text token (see vocabulary.h), or nothing if it is not one.
std::optional<uint32_t> plain_text_characters(std::string_view bytes) {
  TextState state = TextState::between_characters;
  uint32_t characters = 0;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '\\') return std::nullopt;
    switch (scan_string_byte(state, b)) {
      case TextStep::rejected:
      case TextStep::closed: return std::nullopt;
      case TextStep::character: ++characters; break;
      case TextStep::continued: break;
    }
  }
  return characters;
}

// The trie of `ids` (tokens with non-empty bytes): sorted bytewise, each token shares the nodes
// of its longest common prefix with the one before it, so nodes come out depth-first.
ByteTrie build_trie(const std::vector<std::string>& tokens, std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return tokens[static_cast<size_t>(a)] < tokens[static_cast<size_t>(b)] || (tokens[static_cast<size_t>(a)] == tokens[static_cast<size_t>(b)] && a < b);
  });
  ByteTrie trie;
  trie.nodes.push_back({});
  std::vector<uint32_t> path = {0};  // path[d]: the open node at depth d
  const auto close_to = [&](size_t depth) {
    while (path.size() > depth + 1) {
      trie.nodes[path.back()].subtree_end = static_cast<uint32_t>(trie.nodes.size());
      path.pop_back();
    }
  };
  std::string_view previous;
  for (const int32_t id : ids) {
    const std::string_view bytes = tokens[static_cast<size_t>(id)];
    const size_t shared = static_cast<size_t>(
        std::mismatch(previous.begin(), previous.end(), bytes.begin(), bytes.end()).first - previous.begin());
    close_to(shared);
    for (size_t k = shared; k < bytes.size(); ++k) {
      path.push_back(static_cast<uint32_t>(trie.nodes.size()));
      trie.nodes.push_back({0, static_cast<uint32_t>(trie.tokens.size()), static_cast<uint32_t>(k + 1),
                            static_cast<uint8_t>(bytes[k])});
    }
    trie.tokens.push_back(id);
    trie.max_depth = std::max(trie.max_depth, static_cast<uint32_t>(bytes.size()));
    previous = bytes;
  }
  close_to(0);
  trie.nodes[0].subtree_end = static_cast<uint32_t>(trie.nodes.size());
  return trie;
}

}  // namespace

Vocabulary::Vocabulary(const Tokenizer& tokenizer) : Vocabulary(tokenizer_tokens(tokenizer)) {}

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  std::vector<int32_t> all, other;
  std::vector<std::pair<uint32_t, int32_t>> plain;  // (characters, id)
  plain_text_bits_.assign((tokens_.size() + 31) / 32, 0);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].empty()) continue;
    const auto id = static_cast<int32_t>(i);
    all.push_back(id);
    if (const auto characters = plain_text_characters(tokens_[i])) {
      plain.emplace_back(*characters, id);
      plain_text_bits_[i / 32] |= 1u << (i % 32);
    } else {
      other.push_back(id);
    }
  }
  all_ = build_trie(tokens_, std::move(all));
  other_ = build_trie(tokens_, std::move(other));
  std::sort(plain.begin(), plain.end());
  const uint32_t longest = plain.empty() ? 0 : plain.back().first;
  plain_text_count_up_to_.assign(longest + 1, 0);
  for (const auto& [characters, id] : plain) {
    plain_text_by_length_.push_back(id);
    ++plain_text_count_up_to_[characters];
  }
  for (uint32_t k = 1; k <= longest; ++k) plain_text_count_up_to_[k] += plain_text_count_up_to_[k - 1];
}

std::string_view Vocabulary::bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return {};
  return tokens_[static_cast<size_t>(id)];
}

std::span<const int32_t> Vocabulary::plain_text_up_to(uint32_t characters) const {
  const uint32_t count = plain_text_count_up_to_[std::min(characters, longest_plain_text())];
  return std::span<const int32_t>(plain_text_by_length_).first(count);
}

}  // namespace gptoss::grammar
