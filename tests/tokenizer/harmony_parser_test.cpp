// The streaming harmony parser on completions: analysis + final, tool calls in every header
// variant, tool results, UTF-8 split across tokens, and broken streams.
#include <gtest/gtest.h>

#include <random>

#include "gptoss/harmony.h"
#include "tokenizer/tokenizer_fixture.h"
#include "tokenizer/utf8.h"

namespace gptoss::harmony {
namespace {

using test::gpt_oss_tokenizer;
using Kind = ParserEvent::Kind;

std::vector<int32_t> tokens(std::string_view text) { return gpt_oss_tokenizer().encode(text, true); }

// Feeds every token; returns the events that were not `none`.
std::vector<ParserEvent> feed_all(Parser& parser, const std::vector<int32_t>& ids) {
  std::vector<ParserEvent> events;
  for (const int32_t id : ids) {
    ParserEvent event = parser.feed(id);
    if (event.kind != Kind::none) events.push_back(std::move(event));
  }
  return events;
}

void expect_message(const Message& m, Role role, const std::string& channel, const std::string& recipient,
                    const std::string& content_type, const std::string& text) {
  EXPECT_EQ(m.role, role);
  EXPECT_EQ(m.channel, channel);
  EXPECT_EQ(m.recipient, recipient);
  EXPECT_EQ(m.content_type, content_type);
  EXPECT_EQ(m.text(), text);
}

// Example A's completion (harmony test_simple_reasoning_response).
TEST(HarmonyParser, AnalysisThenFinal) {
  const std::vector<int32_t> completion = {200005, 35644, 200008, 1844,  31064, 25,     392, 4827,  382,
                                           220,    17,    659,    220,   17,    16842,  12295, 81645, 13,
                                           51441,  6052,  13,     200007, 200006, 173781, 200005, 17196, 200008,
                                           17,     659,   220,    17,    314,    220,    19,    13,    200002};
  Parser parser(gpt_oss_tokenizer());
  const auto events = feed_all(parser, completion);
  ASSERT_EQ(parser.messages().size(), 2u);
  expect_message(parser.messages()[0], Role::assistant, "analysis", "", "",
                 "User asks: \"What is 2 + 2?\" Simple arithmetic. Provide answer.");
  expect_message(parser.messages()[1], Role::assistant, "final", "", "", "2 + 2 = 4.");
  EXPECT_EQ(parser.state(), Parser::State::expect_start);
  // header, contents, end (no stop), header, contents, end (stop).
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events.front().kind, Kind::header);
  EXPECT_EQ(events.back().kind, Kind::message_end);
  EXPECT_TRUE(events.back().stop);
  std::string streamed;
  int ends = 0;
  for (const auto& e : events) {
    if (e.kind == Kind::message_end && ++ends == 1) {
      EXPECT_FALSE(e.stop);  // <|end|> separates the analysis from the final answer
    }
    streamed += e.delta;
  }
  EXPECT_EQ(ends, 2);
  EXPECT_EQ(streamed, parser.messages()[0].text() + parser.messages()[1].text());
}

TEST(HarmonyParser, ToolCallAsTheModelWritesIt) {
  Parser parser(gpt_oss_tokenizer());
  const auto events = feed_all(parser, tokens("<|channel|>analysis<|message|>Need to use function get_current_weather."
                                              "<|end|><|start|>assistant<|channel|>commentary "
                                              "to=functions.get_current_weather <|constrain|>json<|message|>"
                                              "{\"location\":\"San Francisco\"}<|call|>"));
  ASSERT_EQ(parser.messages().size(), 2u);
  expect_message(parser.messages()[1], Role::assistant, "commentary", "functions.get_current_weather",
                 "<|constrain|>json", "{\"location\":\"San Francisco\"}");
  EXPECT_TRUE(events.back().stop);
}

TEST(HarmonyParser, AcceptsEveryToolCallHeaderVariant) {
  for (const char* header : {" to=functions.get_weather<|channel|>commentary <|constrain|>json",  // renderer order
                             "<|channel|>commentary to=functions.get_weather<|constrain|>json",   // no space
                             " to=functions.get_weather <|channel|>commentary<|constrain|>json"}) {
    Parser parser(gpt_oss_tokenizer());
    feed_all(parser, tokens(std::string(header) + "<|message|>{}<|call|>"));
    ASSERT_EQ(parser.messages().size(), 1u) << header << ": " << parser.error();
    expect_message(parser.messages()[0], Role::assistant, "commentary", "functions.get_weather", "<|constrain|>json", "{}");
  }
  Parser parser(gpt_oss_tokenizer());
  feed_all(parser, tokens("<|channel|>commentary<|constrain|>json<|message|>{}<|end|>"));
  ASSERT_EQ(parser.messages().size(), 1u) << parser.error();
  expect_message(parser.messages()[0], Role::assistant, "commentary", "", "<|constrain|>json", "{}");
}

// harmony's test_simple_tool_call: a built-in tool on analysis with content type "code"; the
// completion stops without a stop token, so the call is still the current message.
TEST(HarmonyParser, BuiltInToolCallStillOpen) {
  const std::vector<int32_t> response = {
      200005, 35644,  200008, 1844, 31064, 25,     392,    4827,  382,  290,  11122, 306,  40510,
      16842,  1416,   1309,   316,  1199,  37342,  170154, 4584,  13,   200007, 200006, 173781, 200005,
      35644,  316,    28,     29712, 170154, 3490, 200008, 10848, 7693, 1243, 392,    173844, 18583};
  Parser parser(gpt_oss_tokenizer());
  feed_all(parser, response);
  ASSERT_EQ(parser.messages().size(), 1u);
  expect_message(parser.messages()[0], Role::assistant, "analysis", "", "",
                 "User asks: \"What is the weather in Tokyo?\" We need to use lookup_weather tool.");
  EXPECT_EQ(parser.state(), Parser::State::content);
  expect_message(parser.current(), Role::assistant, "analysis", "lookup_weather", "code", "{\"location\": \"Tokyo\"}");
}

TEST(HarmonyParser, ReadsWholeTranscriptsWithToolResults) {
  Parser parser(gpt_oss_tokenizer());
  feed_all(parser, tokens("<|channel|>final<|message|>Hi<|end|><|start|>functions.get_weather to=assistant<|channel|>"
                          "commentary<|message|>{\"sunny\": true}<|end|><|start|>user<|message|>Thanks<|end|>"));
  ASSERT_EQ(parser.messages().size(), 3u) << parser.error();
  const Message& result = parser.messages()[1];
  expect_message(result, Role::tool, "commentary", "assistant", "", "{\"sunny\": true}");
  EXPECT_EQ(result.name, "functions.get_weather");
  expect_message(parser.messages()[2], Role::user, "", "", "", "Thanks");
}

TEST(HarmonyParser, ContentDeltasAreWholeCharacters) {
  Parser parser(gpt_oss_tokenizer());
  const auto ids = tokens("<|channel|>final<|message|>emoji: 🤖🚀👍🏽 family: 👨‍👩‍👧‍👦 日本語<|return|>");
  std::string streamed;
  for (const int32_t id : ids) {
    const ParserEvent event = parser.feed(id);
    ASSERT_NE(event.kind, Kind::error) << parser.error();
    std::string valid;  // a delta is whole characters: valid UTF-8 on its own
    append_utf8_lossy(event.delta, valid, /*final=*/true);
    EXPECT_EQ(valid, event.delta);
    if (event.kind == Kind::content) {
      EXPECT_FALSE(event.delta.empty());
    }
    streamed += event.delta;
  }
  EXPECT_EQ(streamed, "emoji: 🤖🚀👍🏽 family: 👨‍👩‍👧‍👦 日本語");
  EXPECT_EQ(parser.messages().at(0).text(), streamed);
}

TEST(HarmonyParser, InvalidUtf8ContentBecomesReplacementCharacters) {
  Parser parser(gpt_oss_tokenizer());
  auto ids = tokens("<|channel|>final<|message|>a");
  ids.push_back(gpt_oss_tokenizer().encode("\xe4\xb8", false).at(0));  // half a character, then the end
  ids.push_back(200002);
  feed_all(parser, ids);
  ASSERT_EQ(parser.messages().size(), 1u);
  EXPECT_EQ(parser.messages()[0].text(), "a\xEF\xBF\xBD");
}

struct Broken {
  const char* text;
  const char* error;
};

TEST(HarmonyParser, BrokenStreamsAreErrorsNotCrashes) {
  for (const Broken& b : {Broken{"<|channel|>final<|end|>", "unexpected <|end|> in a message header"},
                          Broken{"<|channel|>final<|message|>a<|start|>", "unexpected <|start|> in message content"},
                          Broken{"<|channel|>final<|message|>a<|end|>oops", "expected <|start|>"},
                          Broken{"<|channel|><|message|>", "<|channel|> without a channel name"},
                          Broken{"<|channel|>final<|message|>a<|end|><|start|>bogus<|message|>", "unknown role 'bogus'"},
                          Broken{"<|channel|>final<|message|>a<|end|><|start|><|message|>", "without a role"},
                          Broken{"<|channel|>final a b c<|message|>", "unexpected text in a message header"},
                          Broken{"<|channel|>final<|message|>a<|return|><|message|>", "expected <|start|>"}}) {
    Parser parser(gpt_oss_tokenizer());
    const auto events = feed_all(parser, tokens(b.text));
    ASSERT_FALSE(events.empty()) << b.text;
    EXPECT_EQ(events.back().kind, Kind::error) << b.text;
    EXPECT_EQ(parser.state(), Parser::State::error) << b.text;
    EXPECT_NE(parser.error().find(b.error), std::string::npos) << b.text << ": " << parser.error();
    // Later tokens are ignored until reset(), which starts a fresh completion.
    EXPECT_EQ(parser.feed(200006).kind, Kind::none);
    parser.reset();
    EXPECT_EQ(parser.state(), Parser::State::header);
    EXPECT_TRUE(parser.messages().empty());
    EXPECT_TRUE(parser.error().empty());
    feed_all(parser, tokens("<|channel|>final<|message|>ok<|return|>"));
    ASSERT_EQ(parser.messages().size(), 1u);
    EXPECT_EQ(parser.messages()[0].text(), "ok");
  }
}

TEST(HarmonyParser, UnknownIdsAndBadHeaderBytesAreErrors) {
  for (const int32_t id : {-1, 200019, 201087}) {
    Parser parser(gpt_oss_tokenizer());
    EXPECT_EQ(parser.feed(id).kind, Kind::error);
    EXPECT_NE(parser.error().find("token id " + std::to_string(id)), std::string::npos) << parser.error();
  }
  Parser parser(gpt_oss_tokenizer());
  parser.feed(200005);
  parser.feed(gpt_oss_tokenizer().encode("\xff", false).at(0));
  EXPECT_EQ(parser.feed(200008).kind, Kind::error);
  EXPECT_NE(parser.error().find("not valid UTF-8"), std::string::npos) << parser.error();
}

TEST(HarmonyParser, RandomTokensNeverThrow) {
  std::mt19937 rng(5);
  const int32_t specials[] = {200002, 200003, 200005, 200006, 200007, 200008, 200012, 199999};
  for (int round = 0; round < 200; ++round) {
    Parser parser(gpt_oss_tokenizer());
    for (int i = 0; i < 50; ++i) {
      const int32_t id = rng() % 3 == 0 ? specials[rng() % std::size(specials)] : static_cast<int32_t>(rng() % 201100);
      EXPECT_NO_THROW(parser.feed(id));
    }
  }
}

}  // namespace
}  // namespace gptoss::harmony
