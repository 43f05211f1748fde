// Token masks: on a small hand-made vocabulary with known answers; against a brute-force mask
// (every token's bytes through a copy of the matcher) on gpt-oss's vocabulary; and random walks
// that sample allowed tokens until the document is complete, whose text must parse and be valid
// against the schema by the independent validator.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gptoss/error.h"
#include "grammar/grammar_fixture.h"
#include "grammar/schema_validator.h"
#include "grammar/token_mask.h"

namespace gptoss::test {
namespace {

using grammar::Grammar;
using grammar::JsonConstraint;
using grammar::Matcher;
using grammar::Vocabulary;

std::shared_ptr<const Grammar> shared_grammar(std::string_view schema) {
  return std::make_shared<const Grammar>(compile_schema_text(schema));
}

std::vector<int32_t> ids_of(std::span<const uint32_t> bits) {
  std::vector<int32_t> ids;
  for (size_t w = 0; w < bits.size(); ++w)
    for (uint32_t word = bits[w]; word != 0; word &= word - 1)
      ids.push_back(static_cast<int32_t>(w * 32 + static_cast<size_t>(std::countr_zero(word))));
  return ids;
}

std::vector<int32_t> allowed_ids(JsonConstraint& constraint, const Vocabulary& vocabulary) {
  std::vector<uint32_t> bits((vocabulary.size() + 31) / 32);
  const size_t count = constraint.allowed_tokens(bits);
  std::vector<int32_t> ids = ids_of(bits);
  EXPECT_EQ(count, ids.size());
  return ids;
}

// Every token whose bytes a copy of `matcher` reads in full: the mask by definition.
std::vector<int32_t> brute_force_ids(const Matcher& matcher, const Vocabulary& vocabulary) {
  std::vector<int32_t> ids;
  Matcher current = matcher, next = matcher;
  for (size_t id = 0; id < vocabulary.size(); ++id) {
    const std::string_view bytes = vocabulary.bytes(static_cast<int32_t>(id));
    if (bytes.empty()) continue;
    current = matcher;
    bool allowed = true;
    for (size_t i = 0; allowed && i < bytes.size(); ++i) {
      allowed = next.advance_from(current, static_cast<unsigned char>(bytes[i]));
      std::swap(current, next);
    }
    if (allowed) ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::set<std::string> texts_of(const Vocabulary& vocabulary, const std::vector<int32_t>& ids) {
  std::set<std::string> texts;
  for (const int32_t id : ids) texts.emplace(vocabulary.bytes(id));
  return texts;
}

TEST(TokenMaskTest, SmallVocabulary) {
  const Vocabulary vocabulary({"{", "}", "\"", "a", "\"a\"", ":", "1", "12", " ", "\"b", "ab\"", "\xc3", "\xa9", "\xc3\xa9",
                               "", "\"}", "\\n", "\xc3\xa9\"}", "\n", "x"});
  JsonConstraint c(shared_grammar(R"({"type": "object", "properties": {"a": {"type": "string", "maxLength": 2}},
                                    "required": ["a"], "additionalProperties": false})"),
                   vocabulary);
  using Texts = std::set<std::string>;
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\n", " ", "{"}));
  c.accept(0);  // {
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\n", " ", "\"", "\"a\""}));
  c.accept(4);  // "a"
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\n", " ", ":"}));
  c.accept(5);  // :
  c.accept(2);  // "
  // Inside the string (at most 2 characters): plain text of at most 2 characters, an escape,
  // and the tokens that close the string and the object.
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)),
            (Texts{"\"", "\"}", "1", "12", " ", "\\n", "a", "ab\"", "x", "\xc3", "\xc3\xa9", "\xc3\xa9\"}", "{", "}", ":"}));
  c.accept(11);  // the first byte of é
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\xa9"}));
  c.accept(12);
  c.accept(3);  // a: the string is full
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\"", "\"}"}));
  EXPECT_FALSE(c.complete());
  c.accept(15);  // "}
  EXPECT_TRUE(c.complete());
  EXPECT_EQ(texts_of(vocabulary, allowed_ids(c, vocabulary)), (Texts{"\n", " "}));
}

TEST(TokenMaskTest, DisallowedTokensAreRefusedAndLeaveTheStateUnchanged) {
  const Vocabulary vocabulary({"[", "]", "1", "", ",", "1]"});
  JsonConstraint c(shared_grammar(R"({"type": "array", "items": {"type": "integer"}})"), vocabulary);
  EXPECT_THROW(c.accept(1), Error);
  EXPECT_THROW(c.accept(3), Error);   // never allowed
  EXPECT_THROW(c.accept(-1), Error);
  EXPECT_THROW(c.accept(99), Error);
  c.accept(0);
  EXPECT_THROW(c.accept(4), Error);
  c.accept(2);
  c.accept(4);
  EXPECT_THROW(c.accept(1), Error);
  c.accept(5);
  EXPECT_TRUE(c.complete());
}

TEST(TokenMaskTest, MasksAreAddedToTheBitsGiven) {
  const Vocabulary vocabulary({"1", "x"});
  JsonConstraint c(shared_grammar(R"({"type": "integer"})"), vocabulary);
  std::vector<uint32_t> bits = {0b10};
  EXPECT_EQ(c.allowed_tokens(bits), 1u);
  EXPECT_EQ(bits[0], 0b11u);
  std::vector<uint32_t> none;
  EXPECT_THROW(c.allowed_tokens(none), Error);
}

// Schemas for the tests on the real vocabulary, each exercising a different part of the grammar.
const std::vector<std::string>& walk_schemas() {
  static const std::vector<std::string> schemas = {
      // OpenAI strict mode: every property required, nested object, enum list, nullable.
      R"({"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 24},
            "age": {"type": "integer"},
            "email": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 3},
            "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                        "required": ["street", "city"], "additionalProperties": false}},
          "required": ["name", "age", "email", "tags", "address"], "additionalProperties": false})",
      // Optional properties and numbers.
      R"({"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "label": {"type": "string"},
          "flag": {"type": "boolean"}}, "required": ["y"], "additionalProperties": false})",
      // A recursive tree.
      R"({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 3}},
            "required": ["value", "children"], "additionalProperties": false}}, "$ref": "#/$defs/node"})",
      // A tagged union and tuples.
      R"({"type": "array", "minItems": 1, "maxItems": 4, "items": {"oneOf": [
            {"type": "object", "properties": {"kind": {"const": "point"}, "at": {"type": "array",
              "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false, "minItems": 2}},
             "required": ["kind", "at"], "additionalProperties": false},
            {"type": "object", "properties": {"kind": {"const": "note"}, "text": {"type": "string", "minLength": 1}},
             "required": ["kind", "text"], "additionalProperties": false},
            {"type": "null"}]}})",
      // A dictionary: one declared key, then any keys.
      R"({"type": "object", "properties": {"total": {"type": "integer"}}, "required": ["total"],
          "additionalProperties": {"type": "number"}})",
      // Short strings with length limits.
      R"({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 5}, "minItems": 1, "maxItems": 4})",
      // json_object mode.
      R"({"type": "object"})",
  };
  return schemas;
}

bool closes_something(std::string_view bytes) {
  const bool closes = bytes.find_first_of("\"]}") != std::string_view::npos;
  return closes && bytes.find_first_of("[{") == std::string_view::npos;
}

// Samples allowed tokens until the document is complete: uniformly at first, then more and more
// often among the tokens that close a string, array or object, so that every walk ends.
// `at_each_state` is called before each token.
std::string random_document(const std::shared_ptr<const Grammar>& grammar, uint32_t seed,
                            const std::function<void(const JsonConstraint&, size_t)>& at_each_state = {}) {
  const Vocabulary& vocabulary = gpt_oss_vocabulary();
  JsonConstraint c(grammar, vocabulary);
  std::mt19937 rng(seed);
  std::string text;
  for (size_t step = 0; step < 4000; ++step) {
    if (c.complete() && std::uniform_real_distribution<double>(0, 1)(rng) < 0.7) return text;
    if (at_each_state) at_each_state(c, step);
    const std::vector<int32_t> allowed = allowed_ids(c, vocabulary);
    if (allowed.empty()) {
      EXPECT_TRUE(c.complete()) << "dead end after: " << text;
      return text;
    }
    // Whitespace-only tokens are many in the vocabulary and say little: they are mostly skipped.
    std::vector<int32_t> closing, not_blank;
    for (const int32_t id : allowed) {
      if (closes_something(vocabulary.bytes(id))) closing.push_back(id);
      if (vocabulary.bytes(id).find_first_not_of(" \t\r\n") != std::string_view::npos) not_blank.push_back(id);
    }
    const double closing_bias = std::min(0.9, 0.1 + static_cast<double>(step) / 100.0);
    const bool close = !closing.empty() && std::uniform_real_distribution<double>(0, 1)(rng) < closing_bias;
    const bool skip_blank = !not_blank.empty() && std::uniform_real_distribution<double>(0, 1)(rng) < 0.95;
    const std::vector<int32_t>& pool = close ? closing : skip_blank ? not_blank : allowed;
    const int32_t token = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
    c.accept(token);
    text += vocabulary.bytes(token);
  }
  ADD_FAILURE() << "no complete document after 4000 tokens: " << text.substr(0, 400);
  return text;
}

TEST(TokenMaskTest, RandomWalksWriteValidDocuments) {
  for (const std::string& schema_text : walk_schemas()) {
    const auto schema = nlohmann::ordered_json::parse(schema_text);
    const auto grammar = std::make_shared<const Grammar>(grammar::compile_json_schema(schema));
    std::set<std::string> distinct;
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      const std::string text = random_document(grammar, seed);
      SCOPED_TRACE("schema " + schema_text + "\nseed " + std::to_string(seed) + ": " + text);
      EXPECT_TRUE(accepts(*grammar, text));
      nlohmann::json document;
      ASSERT_NO_THROW(document = nlohmann::json::parse(text));
      std::string why;
      EXPECT_TRUE(validate_against_schema(schema, document, &why)) << why;
      distinct.insert(text);
    }
    EXPECT_GE(distinct.size(), 10u) << schema_text;  // the walks explore, not repeat
  }
}

TEST(TokenMaskTest, PropertiesComeInDeclaredOrder) {
  const auto schema = nlohmann::ordered_json::parse(walk_schemas()[1]);
  const auto grammar = std::make_shared<const Grammar>(grammar::compile_json_schema(schema));
  const std::vector<std::string> declared = {"x", "y", "label", "flag"};
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    const auto document = nlohmann::ordered_json::parse(random_document(grammar, seed));
    size_t next = 0;
    for (const auto& [key, value] : document.items()) {
      while (next < declared.size() && declared[next] != key) ++next;
      ASSERT_LT(next, declared.size()) << document.dump();
    }
  }
}

TEST(TokenMaskTest, MaskEqualsBruteForceOnRandomStates) {
  const Vocabulary& vocabulary = gpt_oss_vocabulary();
  for (const std::string& schema_text : walk_schemas()) {
    const auto grammar = shared_grammar(schema_text);
    size_t checked = 0;
    // The states a random walk goes through, every few tokens.
    random_document(grammar, 99, [&](const JsonConstraint& state, size_t step) {
      if (step % 5 != 0 || checked >= 6) return;
      ++checked;
      JsonConstraint copy = state;
      EXPECT_EQ(allowed_ids(copy, vocabulary), brute_force_ids(state.matcher(), vocabulary))
          << schema_text << "\nat step " << step;
    });
    EXPECT_GT(checked, 0u);
  }
}

TEST(TokenMaskTest, InsideAStringMostTokensAreAllowed) {
  const Vocabulary& vocabulary = gpt_oss_vocabulary();
  JsonConstraint c(shared_grammar(R"({"type": "string"})"), vocabulary);
  const std::vector<int32_t> quote = gpt_oss_tokenizer().encode("\"", false);
  ASSERT_EQ(quote.size(), 1u);
  c.accept(quote[0]);
  const std::vector<int32_t> allowed = allowed_ids(c, vocabulary);
  EXPECT_GT(allowed.size(), 150000u);
  EXPECT_EQ(allowed, brute_force_ids(c.matcher(), vocabulary));
  for (const char* special : {"<|return|>", "<|call|>", "<|end|>"}) {
    const auto id = gpt_oss_tokenizer().special_token(special);
    ASSERT_TRUE(id);
    EXPECT_FALSE(std::binary_search(allowed.begin(), allowed.end(), *id)) << special;
  }
}

}  // namespace
}  // namespace gptoss::test
