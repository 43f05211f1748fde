#include "grammar/token_mask.h"

#include <algorithm>
#include <bit>
#include <string>

#include "gptoss/error.h"

namespace gptoss::grammar {

JsonConstraint::JsonConstraint(std::shared_ptr<const Grammar> grammar, const Vocabulary& vocabulary)
    : grammar_(std::move(grammar)),
      vocabulary_(&vocabulary),
      matcher_(*grammar_),
      walk_states_(std::max(vocabulary.all_tokens().max_depth, vocabulary.other_than_plain_text().max_depth) + 1, matcher_),
      mask_((vocabulary.size() + 31) / 32) {}

size_t JsonConstraint::allowed_tokens(std::span<uint32_t> allowed) {
  if (allowed.size() < mask_.size())
    throw Error("token mask of " + std::to_string(allowed.size() * 32) + " bits for a vocabulary of " +
                std::to_string(vocabulary_->size()) + " tokens");
  std::fill(mask_.begin(), mask_.end(), 0);
  // The language allowed next is the union of each reading's (stack's), so each is walked
  // alone: then the plain-text shortcut applies to those inside a string.
  const size_t stacks = matcher_.stack_count();
  for (size_t i = 0; i < stacks; ++i) {
    const Matcher one = stacks == 1 ? matcher_ : matcher_.only_stack(i);
    if (const auto characters = matcher_.plain_text_budget(i)) {
      allow_plain_text(*characters);
      walk(vocabulary_->other_than_plain_text(), one);
    } else {
      walk(vocabulary_->all_tokens(), one);
    }
  }
  size_t count = 0;
  for (size_t w = 0; w < mask_.size(); ++w) {
    allowed[w] |= mask_[w];
    count += static_cast<size_t>(std::popcount(mask_[w]));
  }
  return count;
}

void JsonConstraint::walk(const ByteTrie& trie, const Matcher& start) {
  walk_states_[0] = start;
  const auto size = static_cast<uint32_t>(trie.nodes.size());
  for (uint32_t i = 1; i < size;) {
    const TrieNode& node = trie.nodes[i];
    if (!walk_states_[node.depth].advance_from(walk_states_[node.depth - 1], node.byte)) {
      i = node.subtree_end;  // no token below this prefix is allowed
      continue;
    }
    for (const int32_t id : trie.tokens_at(i)) allow(id);
    ++i;  // depth-first: the next node's parent state is in walk_states_
  }
}

void JsonConstraint::allow_plain_text(uint32_t characters) {
  if (characters >= vocabulary_->longest_plain_text()) {
    const std::span<const uint32_t> bits = vocabulary_->plain_text_bits();
    for (size_t w = 0; w < bits.size(); ++w) mask_[w] |= bits[w];
    return;
  }
  for (const int32_t id : vocabulary_->plain_text_up_to(characters)) allow(id);
}

void JsonConstraint::accept(int32_t token) {
  const std::string_view bytes = vocabulary_->bytes(token);
  Matcher next = matcher_;
  bool allowed = !bytes.empty();
  for (size_t i = 0; allowed && i < bytes.size(); ++i) allowed = next.advance(static_cast<unsigned char>(bytes[i]));
  if (!allowed) throw Error("token " + std::to_string(token) + " is not allowed here by the JSON grammar");
  matcher_ = std::move(next);
}

}  // namespace gptoss::grammar
