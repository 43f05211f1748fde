// The o200k pre-tokenizer regex through PCRE2: pieces as Hugging Face's Split (Oniguruma) makes
// them, including the Unicode categories, contractions and the \s+(?!\S) look-ahead.
#include <gtest/gtest.h>

#include "gptoss/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace gptoss {
namespace {

// The Split regex of gpt-oss's tokenizer.json (o200k, gpt-oss-model.md §5).
const char* kO200k =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::vector<std::string> pieces(std::string_view text) {
  static const PreTokenizer pretokenizer(kO200k, "test");
  std::vector<std::string_view> views;
  pretokenizer.split(text, views);
  return {views.begin(), views.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, SplitsWordsNumbersAndPunctuation) {
  EXPECT_EQ(pieces("Hello, world!"), (Pieces{"Hello", ",", " world", "!"}));
  EXPECT_EQ(pieces("12345678901"), (Pieces{"123", "456", "789", "01"}));
  EXPECT_EQ(pieces("$12.50"), (Pieces{"$", "12", ".", "50"}));
  EXPECT_EQ(pieces("CamelCaseWORDSand"), (Pieces{"Camel", "Case", "WORDSand"}));
  EXPECT_EQ(pieces("path/to\n"), (Pieces{"path", "/to", "\n"}));
  EXPECT_EQ(pieces(" ..//\n\nx"), (Pieces{" ..//\n\n", "x"}));
  EXPECT_EQ(pieces(""), Pieces{});
}

TEST(PreTokenizer, ContractionsAreCaseInsensitive) {
  EXPECT_EQ(pieces("don't"), (Pieces{"don't"}));
  EXPECT_EQ(pieces("WE'VE"), (Pieces{"WE'VE"}));
  EXPECT_EQ(pieces("It'S"), (Pieces{"It'S"}));
  EXPECT_EQ(pieces("they'll"), (Pieces{"they'll"}));
  EXPECT_EQ(pieces("x'z"), (Pieces{"x", "'z"}));
}

TEST(PreTokenizer, TrailingSpaceStaysOffTheNextWord) {
  // \s+(?!\S): the last space of a run goes with the word after it.
  EXPECT_EQ(pieces("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(pieces("a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(pieces("    indented\n\t\ttabs"), (Pieces{"   ", " indented", "\n", "\t", "\ttabs"}));
  EXPECT_EQ(pieces(" \t\n "), (Pieces{" \t\n", " "}));
}

TEST(PreTokenizer, UsesUnicodeCategories) {
  EXPECT_EQ(pieces("Bună ziua"), (Pieces{"Bună", " ziua"}));
  EXPECT_EQ(pieces("naïve café"), (Pieces{"naïve", " café"}));
  EXPECT_EQ(pieces("e\xCC\x81t\xC3\xA9"), (Pieces{"e\xCC\x81t\xC3\xA9"}));  // combining mark (M) inside a word
  EXPECT_EQ(pieces("日本語のテキスト"), (Pieces{"日本語のテキスト"}));
  EXPECT_EQ(pieces("x\xC2\xA0y"), (Pieces{"x", "\xC2\xA0y"}));  // NBSP: not a letter, so a word's prefix
  EXPECT_EQ(pieces("٣٤٥٦"), (Pieces{"٣٤٥", "٦"}));          // Arabic-Indic digits are \p{N}
}

// Oniguruma's \s is Unicode White_Space; PCRE2's also matches U+180E (MONGOLIAN VOWEL SEPARATOR,
// format character since Unicode 6.3). Hugging Face therefore treats it as punctuation.
TEST(PreTokenizer, MongolianVowelSeparatorIsNotWhitespace) {
  EXPECT_EQ(pieces("\xE1\xA0\x8E."), (Pieces{"\xE1\xA0\x8E."}));
  EXPECT_EQ(pieces("a \xE1\xA0\x8E"), (Pieces{"a", " \xE1\xA0\x8E"}));
  EXPECT_EQ(pieces("a\xE2\x80\x89."), (Pieces{"a", "\xE2\x80\x89", "."}));  // U+2009 is White_Space
}

TEST(PreTokenizer, InvalidUtf8RunsArePiecesOfTheirOwn) {
  EXPECT_EQ(pieces("ab\xff\xfe" "cd"), (Pieces{"ab", "\xff\xfe", "cd"}));
  EXPECT_EQ(pieces("\xe4\xb8"), (Pieces{"\xe4\xb8"}));
  EXPECT_EQ(pieces("x \x80 y"), (Pieces{"x", " ", "\x80", " y"}));
}

TEST(PreTokenizer, TranslatesOnigurumaWhitespace) {
  const std::string space = "\\t-\\r\\x{85}\\p{Z}";
  EXPECT_EQ(pcre2_pattern_from_oniguruma("\\s+(?!\\S)"), "[" + space + "]+(?![^" + space + "])");
  EXPECT_EQ(pcre2_pattern_from_oniguruma("[^\\s\\p{L}]"), "[^" + space + "\\p{L}]");
  EXPECT_EQ(pcre2_pattern_from_oniguruma("[]\\s]\\\\s"), "[]" + space + "]\\\\s");
  EXPECT_THROW(pcre2_pattern_from_oniguruma("[^\\S]"), Error);
  EXPECT_THROW(pcre2_pattern_from_oniguruma("[a[b]]"), Error);
}

TEST(PreTokenizer, RejectsPatternsPcre2CannotCompile) {
  try {
    PreTokenizer bad("(unclosed", "test");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test: pre-tokenizer regex: missing closing parenthesis"), std::string::npos) << e.what();
  }
}

TEST(PreTokenizer, EmptyMatchesMakeNoPieces) {
  const PreTokenizer words("\\p{L}*", "test");
  std::vector<std::string_view> views;
  words.split("ab, c", views);
  // As in Hugging Face, an empty match yields no piece but ends the unmatched run before it.
  EXPECT_EQ(Pieces(views.begin(), views.end()), (Pieces{"ab", ",", " ", "c"}));
}

// 10M identical characters failed with "match limit exceeded" (PCRE2 counts the backtracking
// over the run). The pieces are those Hugging Face makes: the regex sees the whole text.
TEST(PreTokenizer, LongRunsOfOneCharacterSplitLikeHuggingFace) {
  constexpr size_t n = 10'000'000;
  for (const char c : {' ', '\t', '\n', 'a', 'A'}) {
    const std::string run(n, c);
    std::vector<std::string_view> views;
    static const PreTokenizer pretokenizer(kO200k, "test");
    pretokenizer.split(run, views);
    ASSERT_EQ(views.size(), 1u) << int{c};
    EXPECT_EQ(views[0].size(), n) << int{c};
  }
  // \s+(?!\S) leaves the last space to the word after it.
  const std::string spaces_then_word = std::string(n, ' ') + "x";
  std::vector<std::string_view> views;
  PreTokenizer(kO200k, "test").split(spaces_then_word, views);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].size(), n - 1);
  EXPECT_EQ(views[1], " x");
  // Capitals then lower case are one word; digits go in threes.
  const std::string capitals_then_lower = std::string(n, 'A') + "bc";
  PreTokenizer(kO200k, "test").split(capitals_then_lower, views);
  ASSERT_EQ(views.size(), 1u);
  const std::string digits(n + 1, '7');
  PreTokenizer(kO200k, "test").split(digits, views);
  ASSERT_EQ(views.size(), n / 3 + 1);
  EXPECT_EQ(views.back(), "77");
}

TEST(Utf8, FindsCharactersPrefixesAndInvalidSubparts) {
  using Kind = Utf8Sequence::Kind;
  const auto seq = [](std::string_view s) { return std::pair(next_utf8_sequence(s).kind, next_utf8_sequence(s).length); };
  EXPECT_EQ(seq("a"), std::pair(Kind::valid, size_t{1}));
  EXPECT_EQ(seq("\xC3\xA9"), std::pair(Kind::valid, size_t{2}));
  EXPECT_EQ(seq("\xF0\x9F\xA4\x96"), std::pair(Kind::valid, size_t{4}));
  EXPECT_EQ(seq("\xF0\x9F\xA4"), std::pair(Kind::incomplete, size_t{3}));
  EXPECT_EQ(seq("\xF0\x9F" "a"), std::pair(Kind::invalid, size_t{2}));
  EXPECT_EQ(seq("\xE0\x80\x80"), std::pair(Kind::invalid, size_t{1}));  // overlong
  EXPECT_EQ(seq("\xED\xA0\x80"), std::pair(Kind::invalid, size_t{1}));  // surrogate
  EXPECT_EQ(seq("\xF4\x90\x80\x80"), std::pair(Kind::invalid, size_t{1}));  // above U+10FFFF
  EXPECT_EQ(seq("\xC0\xAF"), std::pair(Kind::invalid, size_t{1}));
  EXPECT_EQ(seq("\x80"), std::pair(Kind::invalid, size_t{1}));
  std::string out;
  EXPECT_EQ(append_utf8_lossy("a\xF0\x9F" "b\xE4\xB8", out, false), 4u);
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b");
}

}  // namespace
}  // namespace gptoss
