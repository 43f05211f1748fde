// Runs a compiled Grammar over text one byte at a time: a pushdown automaton whose stack holds
// one frame per value being written (the document, then each open object, array, string,
// number or literal inside it).
//
// A schema can be ambiguous for a while — anyOf two objects both starting `{"` — so the state is
// a small set of stacks, one per reading of the text so far; identical stacks are merged, and
// at most kMaxStacks are kept (further readings are dropped: what is written still matches the
// schema, some ambiguous schemas just lose alternatives). Stacks never grow past kMaxDepth, and
// a value is started only when it can finish within that bound, so every state a matcher
// reaches can still be completed: the token mask never leads a generation into a dead end.
//
// Whitespace between tokens is allowed in runs of at most kMaxWhitespaceRun bytes (enough for
// pretty-printed JSON, not enough for a model to loop on it), and numbers are limited to
// kMaxIntegerDigits/kMaxFractionDigits/kMaxExponentDigits digits: within int64 and double range,
// which is what parsers hand back, and no endless digits either.
//
// A Matcher is a value: copy it to snapshot, assign to restore. Not thread-safe; the Grammar it
// runs must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "grammar/grammar.h"

namespace gptoss::grammar {

inline constexpr size_t kMaxStacks = 32;
inline constexpr uint32_t kMaxWhitespaceRun = 16;
inline constexpr uint32_t kMaxIntegerDigits = 18;
inline constexpr uint32_t kMaxFractionDigits = 18;
inline constexpr uint32_t kMaxExponentDigits = 2;

struct Frame;

class Matcher {
 public:
  // At the start of a document of `grammar`.
  explicit Matcher(const Grammar& grammar);
  Matcher(const Matcher&);
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(const Matcher&);
  Matcher& operator=(Matcher&&) noexcept;
  ~Matcher();

  // Reads `byte`: false when the grammar does not allow it here (the state is then unchanged).
  bool advance(unsigned char byte);
  // Becomes `from` after reading `byte`, reusing this matcher's memory (the token mask's step);
  // false when `byte` is not allowed, and this matcher is then left in an unusable state until
  // assigned or advanced from another.
  bool advance_from(const Matcher& from, unsigned char byte);
  // Whether the text so far is a whole document (more may still be allowed: digits after a
  // number, trailing whitespace).
  bool complete() const;

  // The readings (stacks) held; the language allowed next is the union of theirs.
  size_t stack_count() const { return stack_ends_.size(); }
  Matcher only_stack(size_t index) const;
  // When stack `index` is between two characters of a string's content (a string value, or a
  // key that may be any key), the number of characters it still accepts there: every run of
  // that many characters without '"', '\' or a control byte, in well-formed UTF-8, is accepted
  // in full. Nothing when its top is not in such a place.
  std::optional<uint32_t> plain_text_budget(size_t index) const;

 private:
  const Grammar* grammar_;
  std::vector<Frame> frames_;          // every stack, bottom first, one after the other
  std::vector<uint32_t> stack_ends_;   // the end of each stack in frames_
};

}  // namespace gptoss::grammar
