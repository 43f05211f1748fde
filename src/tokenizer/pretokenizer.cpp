#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <cstdint>

#include "gptoss/error.h"
#include "tokenizer/utf8.h"

namespace gptoss {

namespace {

// Unicode White_Space: \t..\r, U+0085 and the separators (Z: Zs, Zl, Zp), i.e. PCRE2's \s
// without U+180E, which left Zs in Unicode 6.3.
constexpr std::string_view kSpaceInClass = "\\t-\\r\\x{85}\\p{Z}";

constexpr uint64_t kDefaultMatchLimit = 10'000'000;  // PCRE2's own default

std::string pcre2_error(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string pcre2_pattern_from_oniguruma(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  size_t class_start = 0;  // where the class's own characters begin: a ']' there is literal
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char escaped = pattern[++i];
      if (escaped == 's' && in_class) {
        out += kSpaceInClass;
      } else if (escaped == 's' || escaped == 'S') {
        if (in_class) throw Error("pre-tokenizer regex: \\S inside a character class is not supported");
        out += escaped == 's' ? "[" : "[^";
        out += kSpaceInClass;
        out += ']';
      } else {
        out += c;
        out += escaped;
      }
      continue;
    }
    if (c == '[' && in_class) throw Error("pre-tokenizer regex: nested character classes are not supported");
    if (c == '[') {
      in_class = true;
      class_start = i + 1 + (i + 1 < pattern.size() && pattern[i + 1] == '^' ? 1 : 0);
    } else if (c == ']' && in_class && i != class_start) {
      in_class = false;
    }
    out += c;
  }
  return out;
}

struct PreTokenizer::Code {
  pcre2_code* regex = nullptr;
  ~Code() { pcre2_code_free(regex); }
};

PreTokenizer::PreTokenizer(std::string_view pattern, const std::string& origin) : code_(std::make_unique<Code>()) {
  std::string translated;
  try {
    translated = pcre2_pattern_from_oniguruma(pattern);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  int error = 0;
  PCRE2_SIZE offset = 0;
  // MATCH_INVALID_UTF: text may hold invalid UTF-8 (encode accepts any bytes); PCRE2 then treats
  // invalid bytes as unmatchable instead of failing the whole match.
  code_->regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (code_->regex == nullptr)
    throw Error(origin + ": pre-tokenizer regex: " + pcre2_error(error) + " at offset " + std::to_string(offset));
  // Without JIT (an unsupported CPU) pcre2_match interprets the pattern: slower, same results.
  pcre2_jit_compile(code_->regex, PCRE2_JIT_COMPLETE);
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  pieces.clear();
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(code_->regex, nullptr), &pcre2_match_data_free);
  if (match == nullptr) throw std::bad_alloc();
  // PCRE2 counts backtracking steps against a match limit (10M by default) per pcre2_match call.
  // o200k backtracks over a whole run of like characters in one call: \s*[\r\n]+ over 10M
  // spaces, or [\p{Lu}...]*[\p{Ll}...]+ over 10M capitals, failed with "match limit exceeded".
  // Those steps are at most about one per byte, so a limit of twice the text plus the default
  // lets any text through while still stopping a pattern that backtracks catastrophically.
  // The text is matched whole, as Hugging Face does, so pieces stay identical to theirs.
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(
      pcre2_match_context_create(nullptr), &pcre2_match_context_free);
  if (context == nullptr) throw std::bad_alloc();
  const uint64_t limit = std::min<uint64_t>(UINT32_MAX, kDefaultMatchLimit + 2 * uint64_t{text.size()});
  pcre2_set_match_limit(context.get(), static_cast<uint32_t>(limit));
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t unmatched = 0;  // start of the text not yet covered by a piece
  size_t from = 0;
  while (from < text.size()) {
    const int rc = pcre2_match(code_->regex, subject, text.size(), from, 0, match.get(), context.get());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("pre-tokenizer regex: " + pcre2_error(rc) + " at byte " + std::to_string(from) + " of " +
                            std::to_string(text.size()));
    const PCRE2_SIZE* range = pcre2_get_ovector_pointer(match.get());
    if (range[0] > unmatched) pieces.push_back(text.substr(unmatched, range[0] - unmatched));
    if (range[1] > range[0]) {
      pieces.push_back(text.substr(range[0], range[1] - range[0]));
      from = unmatched = range[1];
    } else {
      // An empty match (not possible with o200k's pattern) yields no piece; step over one
      // character so the scan moves on.
      if (range[0] == text.size()) break;
      unmatched = range[0];
      from = range[0] + next_utf8_sequence(text.substr(range[0])).length;
    }
  }
  if (unmatched < text.size()) pieces.push_back(text.substr(unmatched));
}

}  // namespace gptoss
