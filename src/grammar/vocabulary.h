// A tokenizer's tokens as byte strings, arranged for computing token masks (token_mask.h):
//
// - a byte trie of every token, so that a mask runs the matcher once per distinct token prefix
//   and drops a whole subtree at the first byte the grammar refuses;
// - the "plain text" tokens: those that are well-formed UTF-8 from a character boundary (the
//   last character may be cut short) without '"', '\' or a control byte. Inside a string nearly
//   every token is one of them and all of them are allowed (up to a length limit), so a mask
//   there takes them as a precomputed bit set and walks only the trie of the other tokens.
//
// Built once per tokenizer (about 0.1 s for gpt-oss's 200k tokens), then
// read-only: one Vocabulary is shared by every request and thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gptoss/tokenizer.h"

namespace gptoss::grammar {

struct TrieNode {
  uint32_t subtree_end = 0;  // the index after this node's subtree
  uint32_t first_token = 0;  // its tokens: [first_token, the next node's first_token)
  uint32_t depth = 0;        // bytes from the root
  uint8_t byte = 0;          // the byte that leads here from the parent
};

struct ByteTrie {
  std::vector<TrieNode> nodes;  // depth-first, children in byte order; nodes[0] is the root
  std::vector<int32_t> tokens;  // token ids, in the order of their nodes
  uint32_t max_depth = 0;

  // Tokens whose bytes are exactly the path to node `i`.
  std::span<const int32_t> tokens_at(uint32_t i) const {
    const uint32_t end = i + 1 < nodes.size() ? nodes[i + 1].first_token : static_cast<uint32_t>(tokens.size());
    return std::span<const int32_t>(tokens).subspan(nodes[i].first_token, end - nodes[i].first_token);
  }
};

class Vocabulary {
 public:
  // Every token of `tokenizer` except the special ones (and ids it leaves undefined).
  explicit Vocabulary(const Tokenizer& tokenizer);
  // Token id i has the bytes tokens[i]; an empty string marks an id that is never allowed.
  explicit Vocabulary(std::vector<std::string> tokens);

  // Token ids, those never allowed included: a mask needs (size() + 31) / 32 words.
  size_t size() const { return tokens_.size(); }
  // The bytes of `id`; empty for an id that is never allowed (or out of range).
  std::string_view bytes(int32_t id) const;

  const ByteTrie& all_tokens() const { return all_; }
  const ByteTrie& other_than_plain_text() const { return other_; }
  // One bit per id, as in a mask, for every plain-text token.
  std::span<const uint32_t> plain_text_bits() const { return plain_text_bits_; }
  // The plain-text tokens of at most `characters` characters (code points begun).
  std::span<const int32_t> plain_text_up_to(uint32_t characters) const;
  uint32_t longest_plain_text() const { return static_cast<uint32_t>(plain_text_count_up_to_.size()) - 1; }

 private:
  std::vector<std::string> tokens_;
  ByteTrie all_, other_;
  std::vector<uint32_t> plain_text_bits_;
  std::vector<int32_t> plain_text_by_length_;       // shortest first
  std::vector<uint32_t> plain_text_count_up_to_;    // [k]: how many have at most k characters
};

}  // namespace gptoss::grammar
