// The tokens a JSON grammar allows next, for constrained sampling: a token is allowed when the
// matcher accepts all of its bytes from the current state. One JsonConstraint per request (not
// thread-safe); the Vocabulary and Grammar it reads are shared read-only.
//
// It decides nothing about the end of the answer: when complete() the caller (the harmony layer)
// adds the tokens that end the message, <|return|> or <|call|>, to the mask it computes here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "grammar/vocabulary.h"

namespace gptoss::grammar {

class JsonConstraint {
 public:
  // `vocabulary` must outlive the constraint.
  JsonConstraint(std::shared_ptr<const Grammar> grammar, const Vocabulary& vocabulary);

  // Sets bit (id % 32) of allowed[id / 32] for every token the grammar allows next, leaving the
  // other bits as they are (the layout of gptoss::TokenConstraint). `allowed` holds at least
  // vocabulary.size() bits. Returns how many tokens it allowed: 0 when nothing can follow.
  size_t allowed_tokens(std::span<uint32_t> allowed);
  // Moves past `token`; throws gptoss::Error (the state unchanged) if the grammar does not allow
  // it here.
  void accept(int32_t token);
  // Whether the text so far is a whole JSON document of the grammar.
  bool complete() const { return matcher_.complete(); }
  const Matcher& matcher() const { return matcher_; }

 private:
  // Allows every token of `trie` that the matcher `start` accepts in full.
  void walk(const ByteTrie& trie, const Matcher& start);
  // Allows the plain-text tokens of at most `characters` characters.
  void allow_plain_text(uint32_t characters);
  void allow(int32_t id) { mask_[static_cast<uint32_t>(id) / 32] |= 1u << (static_cast<uint32_t>(id) % 32); }

  std::shared_ptr<const Grammar> grammar_;
  const Vocabulary* vocabulary_;
  Matcher matcher_;
  std::vector<Matcher> walk_states_;  // the matcher after each prefix of the trie walk, by depth
  std::vector<uint32_t> mask_;
};

}  // namespace gptoss::grammar
