// The matcher's JSON: string escapes and UTF-8, numbers, bounded whitespace and nesting, and its
// behaviour as a value (refusals leave it unchanged, copies are independent snapshots).
#include <gtest/gtest.h>

#include <string>

#include "grammar/grammar_fixture.h"

namespace gptoss::test {
namespace {

using grammar::Grammar;
using grammar::Matcher;

const Grammar& any_value() {
  static const Grammar g = compile_schema_text("{}");
  return g;
}

const Grammar& string_schema() {
  static const Grammar g = compile_schema_text(R"({"type": "string"})");
  return g;
}

TEST(MatcherTest, StringEscapes) {
  for (const char* text : {R"("\"\\\/\b\f\n\r\t")", R"("\u0041\u00e9\uFFFF")", R"("\ud83d\ude00")", R"("\uD800\uDC00")",
                           R"("a\u12ab")"})
    EXPECT_TRUE(accepts(string_schema(), text)) << text;
  for (const char* text : {R"("\x")", R"("\u12")", R"("\u12g4")", R"("\udc00")", R"("\ud800")", R"("\ud800x")",
                           R"("\ud800\u0041")", R"("\ud800\n")", R"("\U0041")", R"("\")"})
    EXPECT_FALSE(accepts(string_schema(), text)) << text;
}

TEST(MatcherTest, StringsAreWellFormedUtf8WithoutControlCharacters) {
  for (const char* text : {"\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"\x7f\"",
                           "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\""})
    EXPECT_TRUE(accepts(string_schema(), text)) << text;
  for (const char* text : {"\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                           "\"\xf5\x80\x80\x80\"", "\"\x80\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\x01\"", "\"\n\"", "\"\t\"",
                           "\"\xff\""})
    EXPECT_FALSE(accepts(string_schema(), text)) << text;
}

TEST(MatcherTest, NumbersHaveBoundedDigits) {
  const Grammar& g = any_value();
  const std::string eighteen(18, '9');
  EXPECT_TRUE(accepts(g, eighteen));
  EXPECT_FALSE(accepts(g, eighteen + "9"));
  EXPECT_TRUE(accepts(g, "-" + eighteen + "." + eighteen + "e-99"));
  EXPECT_FALSE(accepts(g, "0." + eighteen + "1"));
  EXPECT_FALSE(accepts(g, "1e100"));
  EXPECT_TRUE(accepts(g, "1E+09"));
  for (const char* text : {"-0", "0.0", "10", "-1.25e+3"}) EXPECT_TRUE(accepts(g, text)) << text;
  for (const char* text : {"00", "-", "1.", "1e+", "0x1", "1_000", "NaN", "Infinity", "-Infinity"})
    EXPECT_FALSE(accepts(g, text)) << text;
}

TEST(MatcherTest, WhitespaceRunsAreBounded) {
  const Grammar& g = any_value();
  const std::string longest(grammar::kMaxWhitespaceRun, ' ');
  EXPECT_TRUE(accepts(g, longest + "[" + longest + "1" + longest + "," + longest + "2" + longest + "]" + longest));
  EXPECT_TRUE(accepts(g, "{\r\n\t\"a\"\t:\n1\r\n}"));
  EXPECT_FALSE(accepts(g, longest + " 1"));
  EXPECT_FALSE(accepts(g, "[" + longest + " 1]"));
  EXPECT_FALSE(accepts(g, "[1" + longest + " ]"));
  EXPECT_FALSE(accepts(g, "[\f1]"));  // form feed is not JSON whitespace
  EXPECT_FALSE(accepts(g, "\"a\" \"b\""));
}

TEST(MatcherTest, NestingStopsAtMaxDepth) {
  // The document's frame and one per array: 63 arrays fill kMaxDepth = 64 frames.
  Matcher m(any_value());
  const std::string open(grammar::kMaxDepth - 1, '[');
  ASSERT_TRUE(reads_all(m, open));
  EXPECT_FALSE(m.advance('['));
  EXPECT_FALSE(m.advance('1'));  // a value inside would need a 65th frame
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(reads_all(m, std::string(grammar::kMaxDepth - 1, ']')));
  EXPECT_TRUE(m.complete());
}

TEST(MatcherTest, RefusedBytesLeaveTheStateUnchanged) {
  const Grammar g = compile_schema_text(R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})");
  Matcher m(g);
  EXPECT_FALSE(m.advance('['));
  ASSERT_TRUE(reads_all(m, R"({"a")"));
  EXPECT_FALSE(m.advance(','));
  EXPECT_FALSE(m.advance('}'));
  ASSERT_TRUE(reads_all(m, ":1"));
  EXPECT_FALSE(m.advance('x'));
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(m.advance('}'));
  EXPECT_TRUE(m.complete());
}

TEST(MatcherTest, CopiesAreIndependentSnapshots) {
  const Grammar g = compile_schema_text(R"({"type": "array", "items": {"type": "string"}})");
  Matcher m(g);
  ASSERT_TRUE(reads_all(m, R"(["ab)"));
  const Matcher snapshot = m;
  ASSERT_TRUE(reads_all(m, R"(c"])"));
  EXPECT_TRUE(m.complete());
  Matcher restored = snapshot;
  EXPECT_FALSE(restored.complete());
  ASSERT_TRUE(restored.advance(']'));  // still inside the string: ']' is text there
  EXPECT_FALSE(restored.complete());
  ASSERT_TRUE(reads_all(restored, R"("])"));
  EXPECT_TRUE(restored.complete());
  m = snapshot;
  EXPECT_FALSE(m.complete());
}

TEST(MatcherTest, CompleteWhileANumberCouldGoOn) {
  const Grammar g = compile_schema_text(R"({"type": "integer"})");
  Matcher m(g);
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(m.advance('1'));
  EXPECT_TRUE(m.complete());
  ASSERT_TRUE(m.advance('2'));
  EXPECT_TRUE(m.complete());
  ASSERT_TRUE(m.advance(' '));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.advance('3'));
}

TEST(MatcherTest, AmbiguousChoicesAreFollowedTogetherThenMerge) {
  const Grammar g = compile_schema_text(R"({"type": "array", "items": {"anyOf": [
      {"type": "object", "properties": {"name": {"type": "string"}, "a": {"type": "integer"}}, "required": ["name", "a"],
       "additionalProperties": false},
      {"type": "object", "properties": {"name": {"type": "string"}, "b": {"type": "boolean"}}, "required": ["name", "b"],
       "additionalProperties": false}]}})");
  Matcher m(g);
  ASSERT_TRUE(reads_all(m, R"([{"name":"x",)"));
  EXPECT_EQ(m.stack_count(), 2u);
  ASSERT_TRUE(reads_all(m, R"("b":true})"));
  EXPECT_EQ(m.stack_count(), 1u);
  ASSERT_TRUE(reads_all(m, R"(,{"name":"y","a":1}])"));
  EXPECT_TRUE(m.complete());
}

TEST(MatcherTest, PlainTextBudget) {
  const Grammar bounded = compile_schema_text(R"({"type": "string", "maxLength": 3})");
  Matcher m(bounded);
  EXPECT_FALSE(m.plain_text_budget(0));
  ASSERT_TRUE(reads_all(m, "\"a"));
  EXPECT_EQ(m.plain_text_budget(0), 2u);
  ASSERT_TRUE(m.advance('\\'));
  EXPECT_FALSE(m.plain_text_budget(0));  // inside an escape
  ASSERT_TRUE(reads_all(m, "n\xc3"));
  EXPECT_FALSE(m.plain_text_budget(0));  // inside a character
  ASSERT_TRUE(m.advance(0xa9));
  EXPECT_EQ(m.plain_text_budget(0), 0u);

  const Grammar keys = compile_schema_text(R"({"type": "object", "properties": {"id": {"type": "integer"}},
                                             "additionalProperties": {"type": "integer"}})");
  Matcher k(keys);
  ASSERT_TRUE(reads_all(k, "{\"i"));
  EXPECT_EQ(k.plain_text_budget(0), grammar::kUnbounded);  // any key may follow
  const Grammar closed = compile_schema_text(R"({"type": "object", "properties": {"id": {"type": "integer"}}})");
  Matcher c(closed);
  ASSERT_TRUE(reads_all(c, "{\"i"));
  EXPECT_FALSE(c.plain_text_budget(0));  // only "id" may follow
  ASSERT_TRUE(reads_all(c, "d\":1"));
  EXPECT_FALSE(c.plain_text_budget(0));  // a number
}

}  // namespace
}  // namespace gptoss::test
