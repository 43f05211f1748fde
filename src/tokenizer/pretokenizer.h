// The pre-tokenizer: splits text into the pieces that BPE encodes one by one, with the regex of
// the tokenizer's Split step (for gpt-oss the o200k pattern, gpt-oss-model.md §5) run by PCRE2
// with JIT. Matches and the runs between them are pieces, as Hugging Face's Split "Isolated".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gptoss {

class PreTokenizer {
 public:
  // `pattern` in Oniguruma syntax, as Hugging Face runs it. Throws gptoss::Error, prefixed with
  // `origin`, if PCRE2 cannot compile it.
  PreTokenizer(std::string_view pattern, const std::string& origin);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Replaces `pieces` with the pieces of `text`, which need not be valid UTF-8: the regex never
  // matches across an invalid byte, so invalid runs come out as pieces of their own.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

// The pattern rewritten for PCRE2 where the two dialects differ: Oniguruma's \s is Unicode
// White_Space, while PCRE2's (with UCP) also matches U+180E. Exposed for the tests.
std::string pcre2_pattern_from_oniguruma(std::string_view pattern);

}  // namespace gptoss
