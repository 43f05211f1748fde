// OutputAssembler on hand-written harmony completions: reasoning and final answers, tool calls,
// preambles, stop strings, logprobs, raw completions, and output that breaks harmony.
#include <gtest/gtest.h>

#include "server/transcript.h"
#include "tokenizer/utf8.h"

namespace gptoss::server::test {
namespace {

using Kind = OutputEvent::Kind;

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const Utf8Sequence seq = next_utf8_sequence(text.substr(i));
    if (seq.kind != Utf8Sequence::Kind::valid) return false;
    i += seq.length;
  }
  return true;
}

std::string joined(const std::vector<OutputEvent>& events, Kind kind, int tool_index = -1) {
  std::string text;
  for (const OutputEvent& e : events)
    if (e.kind == kind && (tool_index < 0 || e.tool_index == tool_index)) text += e.text;
  return text;
}

// The deltas add up to the output, a tool call's arguments follow its start, and nothing empty
// is sent.
void expect_events_add_up(const Transcript& t) {
  EXPECT_EQ(joined(t.events, Kind::reasoning), t.output.reasoning);
  EXPECT_EQ(joined(t.events, Kind::content), t.output.content);
  int started = 0;
  for (const OutputEvent& e : t.events) {
    if (e.kind == Kind::tool_call_start) {
      EXPECT_EQ(e.tool_index, started++);
      EXPECT_TRUE(e.text.empty());
    } else if (e.kind == Kind::tool_call_arguments) {
      EXPECT_EQ(e.tool_index, started - 1);
    }
    if (e.kind != Kind::tool_call_start) {
      EXPECT_FALSE(e.text.empty() && e.logprobs.empty());
    }
    EXPECT_TRUE(is_valid_utf8(e.text)) << e.text;
  }
  ASSERT_EQ(static_cast<int>(t.output.tool_calls.size()), started);
  for (int i = 0; i < started; ++i)
    EXPECT_EQ(joined(t.events, Kind::tool_call_arguments, i), t.output.tool_calls[i].arguments);
}

void expect_message(const harmony::Message& m, const std::string& channel, const std::string& recipient,
                    const std::string& text) {
  EXPECT_EQ(m.role, harmony::Role::assistant);
  EXPECT_EQ(m.channel, channel);
  EXPECT_EQ(m.recipient, recipient);
  EXPECT_EQ(m.text(), text);
}

TEST(OutputAssembler, ReasoningThenFinal) {
  const std::string analysis = "<|channel|>analysis<|message|>The user greets me. Reply briefly.<|end|>";
  const std::string final = "<|start|>assistant<|channel|>final<|message|>Hello! How can I help?<|return|>";
  const Transcript t = assemble(analysis + final);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.reasoning, "The user greets me. Reply briefly.");
  EXPECT_EQ(t.output.content, "Hello! How can I help?");
  EXPECT_TRUE(t.output.tool_calls.empty());
  EXPECT_EQ(t.output.finish_reason, "stop");
  EXPECT_EQ(t.output.completion_tokens, token_count(analysis + final));
  EXPECT_EQ(t.output.reasoning_tokens, token_count(analysis));
  ASSERT_EQ(t.output.messages.size(), 2u);
  expect_message(t.output.messages[0], "analysis", "", "The user greets me. Reply briefly.");
  expect_message(t.output.messages[1], "final", "", "Hello! How can I help?");
  // Reasoning comes before the answer, as generated.
  ASSERT_FALSE(t.events.empty());
  EXPECT_EQ(t.events.front().kind, Kind::reasoning);
  EXPECT_EQ(t.events.back().kind, Kind::content);
}

TEST(OutputAssembler, ToolCall) {
  const Transcript t = assemble(
      "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}<|call|>");
  expect_events_add_up(t);
  ASSERT_EQ(t.output.tool_calls.size(), 1u);
  EXPECT_EQ(t.output.tool_calls[0].id, "call_test_0");
  EXPECT_EQ(t.output.tool_calls[0].name, "get_weather");
  EXPECT_EQ(t.output.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(t.output.content, "");
  EXPECT_EQ(t.output.reasoning, "");
  EXPECT_EQ(t.output.finish_reason, "tool_calls");
  EXPECT_EQ(t.output.reasoning_tokens, 0);
  ASSERT_GE(t.events.size(), 2u);
  EXPECT_EQ(t.events[0].kind, Kind::tool_call_start);
  EXPECT_EQ(t.events[0].call_id, "call_test_0");
  EXPECT_EQ(t.events[0].name, "get_weather");
  ASSERT_EQ(t.output.messages.size(), 1u);
  expect_message(t.output.messages[0], "commentary", "functions.get_weather", R"({"city":"Paris"})");
  EXPECT_EQ(t.output.messages[0].content_type, "<|constrain|>json");
}

TEST(OutputAssembler, TwoToolCallsAfterReasoning) {
  // The second header puts the recipient before the channel, as the model also writes it.
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>Need weather and time.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
      "{\"city\":\"Paris\"}<|call|>"
      "<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{\"tz\":\"CET\"}<|call|>");
  expect_events_add_up(t);
  EXPECT_EQ(t.output.reasoning, "Need weather and time.");
  ASSERT_EQ(t.output.tool_calls.size(), 2u);
  EXPECT_EQ(t.output.tool_calls[0].id, "call_test_0");
  EXPECT_EQ(t.output.tool_calls[0].name, "get_weather");
  EXPECT_EQ(t.output.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(t.output.tool_calls[1].id, "call_test_1");
  EXPECT_EQ(t.output.tool_calls[1].name, "get_time");
  EXPECT_EQ(t.output.tool_calls[1].arguments, R"({"tz":"CET"})");
  EXPECT_EQ(t.output.finish_reason, "tool_calls");
  ASSERT_EQ(t.output.messages.size(), 3u);
  expect_message(t.output.messages[2], "commentary", "functions.get_time", R"({"tz":"CET"})");
}

TEST(OutputAssembler, PreambleIsContent) {
  const Transcript t = assemble(
      "<|channel|>commentary<|message|>Let me check the weather.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}<|call|>");
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, "Let me check the weather.");
  ASSERT_EQ(t.output.tool_calls.size(), 1u);
  EXPECT_EQ(t.output.tool_calls[0].arguments, "{}");
  EXPECT_EQ(t.output.finish_reason, "tool_calls");
  ASSERT_EQ(t.output.messages.size(), 2u);
  expect_message(t.output.messages[0], "commentary", "", "Let me check the weather.");
}

TEST(OutputAssembler, HeadersNeverLeak) {
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>commentary<|message|>b<|end|>"
      "<|start|>assistant<|channel|>final<|message|>c<|return|>");
  for (const OutputEvent& e : t.events) {
    EXPECT_EQ(e.text.find("<|"), std::string::npos) << e.text;
    EXPECT_EQ(e.text.find("assistant"), std::string::npos) << e.text;
  }
  EXPECT_EQ(t.output.reasoning, "a");
  EXPECT_EQ(t.output.content, "bc");
}

TEST(OutputAssembler, LengthInsideTheAnswer) {
  const Transcript t = assemble("<|channel|>final<|message|>The first three primes are 2, 3", FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, "The first three primes are 2, 3");
  EXPECT_EQ(t.output.finish_reason, "length");
  ASSERT_EQ(t.output.messages.size(), 1u);
  expect_message(t.output.messages[0], "final", "", "The first three primes are 2, 3");
  EXPECT_EQ(assemble("<|channel|>final<|message|>x", FinishReason::context_full).output.finish_reason, "length");
  EXPECT_EQ(assemble("<|channel|>final<|message|>x", FinishReason::cancelled).output.finish_reason, "");
}

TEST(OutputAssembler, ReasoningTokensOfACutOffAnalysis) {
  const std::string text = "<|channel|>analysis<|message|>Thinking about it";
  const Transcript t = assemble(text, FinishReason::length);
  EXPECT_EQ(t.output.reasoning, "Thinking about it");
  EXPECT_EQ(t.output.reasoning_tokens, token_count(text));
  EXPECT_EQ(t.output.completion_tokens, token_count(text));
}

TEST(OutputAssembler, CharacterSplitAcrossTokens) {
  // "€" is three bytes, which the byte-level vocabulary may split: whatever the split, the text
  // arrives whole, and a message cut inside a character ends in U+FFFD rather than losing it.
  const Transcript t = assemble("<|channel|>final<|message|>Price: 5€ 😀<|return|>");
  EXPECT_EQ(t.output.content, "Price: 5€ 😀");

  const std::vector<int32_t> ids = tokens_of("<|channel|>final<|message|>ok");
  OutputAssembler assembler(gpt_oss_tokenizer(), options_with());
  for (size_t i = 0; i < ids.size(); ++i) assembler.feed(token_event(ids[i], i));
  const int32_t first_byte_of_emoji = gpt_oss_tokenizer().encode("\xF0", false).at(0);
  assembler.feed(token_event(first_byte_of_emoji, ids.size()));
  assembler.finish(FinishReason::length);
  EXPECT_EQ(assembler.output().content, "ok\xEF\xBF\xBD");
}

// --- Output that breaks harmony becomes content: all of it, once, never an exception.

TEST(OutputAssembler, TextWithoutAHeader) {
  const std::string text = "Hello there, this is not harmony.";
  const Transcript t = assemble(text, FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, text);
  EXPECT_EQ(t.output.reasoning, "");
  EXPECT_EQ(t.output.finish_reason, "length");
  ASSERT_EQ(t.output.messages.size(), 1u);
  expect_message(t.output.messages[0], "final", "", text);
}

TEST(OutputAssembler, LongTextWithoutAHeaderStreamsBeforeTheEnd) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "word" + std::to_string(i) + " and ";
  OutputAssembler assembler(gpt_oss_tokenizer(), options_with());
  const std::vector<int32_t> ids = tokens_of(text);
  std::string streamed;
  for (size_t i = 0; i < ids.size(); ++i) streamed += joined(assembler.feed(token_event(ids[i], i)), Kind::content);
  EXPECT_FALSE(streamed.empty());
  streamed += joined(assembler.finish(FinishReason::length), Kind::content);
  EXPECT_EQ(streamed, text);
}

TEST(OutputAssembler, UnknownChannel) {
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>diary<|message|>Dear diary<|end|>",
      FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.reasoning, "Think.");
  EXPECT_EQ(t.output.content, "<|start|>assistant<|channel|>diary<|message|>Dear diary<|end|>");
  ASSERT_EQ(t.output.messages.size(), 2u);
  expect_message(t.output.messages[1], "final", "", t.output.content);
}

TEST(OutputAssembler, StopTokenClosingBrokenOutputIsNotText) {
  const Transcript t = assemble("Plain words<|return|>");
  EXPECT_EQ(t.output.content, "Plain words");
  EXPECT_EQ(t.output.finish_reason, "stop");
  EXPECT_EQ(assemble("Plain words<|return|>", FinishReason::length).output.content, "Plain words<|return|>");
}

TEST(OutputAssembler, HeaderCutOffByMaxTokens) {
  const Transcript t = assemble("<|channel|>analysis<|message|>ok<|end|><|start|>assistant<|channel|>fin",
                                FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.reasoning, "ok");
  EXPECT_EQ(t.output.content, "<|start|>assistant<|channel|>fin");
  EXPECT_EQ(t.output.finish_reason, "length");
}

TEST(OutputAssembler, ControlTokenInsideContent) {
  const Transcript t = assemble("<|channel|>final<|message|>Hi<|channel|> there", FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, "Hi<|channel|> there");
  ASSERT_EQ(t.output.messages.size(), 2u);
  expect_message(t.output.messages[0], "final", "", "Hi");
  expect_message(t.output.messages[1], "final", "", "<|channel|> there");
}

TEST(OutputAssembler, ControlTokenInsideReasoningKeepsTheReasoning) {
  const Transcript t = assemble("<|channel|>analysis<|message|>Hmm<|constrain|>json then", FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.reasoning, "Hmm");
  EXPECT_EQ(t.output.content, "<|constrain|>json then");
}

TEST(OutputAssembler, NoStartAfterAMessage) {
  const Transcript t = assemble("<|channel|>final<|message|>One.<|end|>Two.", FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, "One.Two.");
}

TEST(OutputAssembler, AnotherRolesTurn) {
  const Transcript t = assemble("<|channel|>final<|message|>Hi.<|end|><|start|>user<|message|>Thanks<|end|>", FinishReason::length);
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, "Hi.<|start|>user<|message|>Thanks<|end|>");
}

TEST(OutputAssembler, BrokenToolCallKeepsWhatWasCalled) {
  const Transcript t = assemble(
      "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\":1}<|return|>"
      "<|start|>assistant<|channel|>final<|message|>ok<|start|>",
      FinishReason::length);
  expect_events_add_up(t);
  ASSERT_EQ(t.output.tool_calls.size(), 1u);
  EXPECT_EQ(t.output.tool_calls[0].arguments, R"({"a":1})");
  EXPECT_EQ(t.output.content, "ok<|start|>");
  EXPECT_EQ(t.output.finish_reason, "length");
}

TEST(OutputAssembler, TokenOutsideTheVocabularyIsNoException) {
  OutputAssembler assembler(gpt_oss_tokenizer(), options_with());
  const std::vector<int32_t> ids = tokens_of("<|channel|>final<|message|>Hi");
  for (size_t i = 0; i < ids.size(); ++i) assembler.feed(token_event(ids[i], i));
  EXPECT_NO_THROW(assembler.feed(token_event(201000, ids.size())));
  EXPECT_NO_THROW(assembler.feed(token_event(13, ids.size() + 1)));
  assembler.finish(FinishReason::length);
  EXPECT_EQ(assembler.output().content, "Hi.");
}

// --- Stop strings

TEST(OutputAssembler, StopStringAcrossTokens) {
  const std::string answer = "The answer is 42, as everyone knows.";
  const std::string stop = "42, as";
  // The stop string is no single token's text: it is only found across tokens.
  for (const int32_t id : tokens_of(answer))
    EXPECT_EQ(std::string(gpt_oss_tokenizer().token_bytes(id)).find(stop), std::string::npos);
  const Transcript t = assemble("<|channel|>final<|message|>" + answer + "<|return|>", FinishReason::stop,
                                options_with({stop}));
  expect_events_add_up(t);
  EXPECT_TRUE(t.stopped);
  EXPECT_EQ(t.output.content, "The answer is ");
  EXPECT_EQ(t.output.finish_reason, "stop");
  EXPECT_LT(t.tokens_fed, token_count("<|channel|>final<|message|>" + answer + "<|return|>"));
  ASSERT_FALSE(t.output.messages.empty());
  expect_message(t.output.messages.back(), "final", "", "The answer is ");
}

TEST(OutputAssembler, TextThatMayBeginAStopStringIsHeldBack) {
  // " 4" could begin " 42!", so it waits; "3" settles it.
  const std::vector<std::string> stop = {" 42!"};
  OutputAssembler assembler(gpt_oss_tokenizer(), options_with(stop));
  const std::vector<int32_t> ids = tokens_of("<|channel|>final<|message|>It is 43 not 42!");
  std::string streamed;
  for (size_t i = 0; i < ids.size() && !assembler.stopped(); ++i) {
    streamed += joined(assembler.feed(token_event(ids[i], i)), Kind::content);
    for (size_t n = 1; n <= stop[0].size(); ++n)
      if (streamed.ends_with(stop[0].substr(0, n)) && !assembler.stopped()) ADD_FAILURE() << "sent: " << streamed;
  }
  EXPECT_TRUE(assembler.stopped());
  EXPECT_EQ(streamed, "It is 43 not");
  assembler.finish(FinishReason::cancelled);
  EXPECT_EQ(assembler.output().content, "It is 43 not");
  EXPECT_EQ(assembler.output().finish_reason, "stop");
}

TEST(OutputAssembler, HeldTextIsReleasedWhenTheMessageEnds) {
  const Transcript t = assemble("<|channel|>final<|message|>Count: 1, 2<|return|>", FinishReason::stop,
                                options_with({"2, 3"}));
  EXPECT_FALSE(t.stopped);
  EXPECT_EQ(t.output.content, "Count: 1, 2");
  EXPECT_EQ(t.output.finish_reason, "stop");
}

TEST(OutputAssembler, StopStringsOnlyInContent) {
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>Say STOP later.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"STOP\":1}<|call|>",
      FinishReason::stop, options_with({"STOP"}));
  EXPECT_FALSE(t.stopped);
  EXPECT_EQ(t.output.reasoning, "Say STOP later.");
  EXPECT_EQ(t.output.tool_calls.at(0).arguments, R"({"STOP":1})");
  EXPECT_EQ(t.output.finish_reason, "tool_calls");
}

TEST(OutputAssembler, EarliestStopStringWins) {
  const Transcript t = assemble("<|channel|>final<|message|>alpha beta gamma<|return|>", FinishReason::stop,
                                options_with({"gamma", "beta", ""}));
  EXPECT_TRUE(t.stopped);
  EXPECT_EQ(t.output.content, "alpha ");
}

TEST(OutputAssembler, StopStringInBrokenOutput) {
  const Transcript t = assemble("no header here, END and more", FinishReason::length, options_with({"END"}));
  EXPECT_TRUE(t.stopped);
  EXPECT_EQ(t.output.content, "no header here, ");
  EXPECT_EQ(t.output.finish_reason, "stop");
}

// --- Logprobs

TEST(OutputAssembler, LogprobsOfContentTokens) {
  const std::string prefix = "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>";
  const std::string answer = "Caf\xC3\xA9 at 5€, fine.";
  const Transcript t = assemble(prefix + answer + "<|return|>", FinishReason::stop, options_with({}, true));
  expect_events_add_up(t);
  const std::vector<int32_t> answer_ids = tokens_of(answer);
  ASSERT_EQ(t.output.logprobs.size(), answer_ids.size());
  std::string bytes;
  const size_t first = tokens_of(prefix).size();
  for (size_t i = 0; i < answer_ids.size(); ++i) {
    const TokenLogprob& lp = t.output.logprobs[i];
    EXPECT_EQ(lp.token, gpt_oss_tokenizer().token_bytes(answer_ids[i]));
    EXPECT_EQ(lp.bytes, std::vector<uint8_t>(lp.token.begin(), lp.token.end()));
    EXPECT_FLOAT_EQ(lp.logprob, token_event(answer_ids[i], first + i).logprob);
    ASSERT_EQ(lp.top.size(), 2u);
    ASSERT_EQ(lp.top_bytes.size(), 2u);
    EXPECT_EQ(lp.top[0].first, lp.token);
    bytes += lp.token;
  }
  EXPECT_EQ(bytes, answer);
  // Each event carries the logprobs of the tokens whose text it completes.
  std::vector<TokenLogprob> streamed;
  for (const OutputEvent& e : t.events) {
    if (e.kind != Kind::content) {
      EXPECT_TRUE(e.logprobs.empty());
    }
    streamed.insert(streamed.end(), e.logprobs.begin(), e.logprobs.end());
  }
  EXPECT_EQ(streamed.size(), t.output.logprobs.size());
}

TEST(OutputAssembler, LogprobsEndWithTheStopString) {
  const std::string answer = "one two three four";
  const Transcript t = assemble("<|channel|>final<|message|>" + answer + "<|return|>", FinishReason::stop,
                                options_with({" three"}, true));
  EXPECT_EQ(t.output.content, "one two");
  std::string bytes;
  for (const TokenLogprob& lp : t.output.logprobs) bytes += lp.token;
  EXPECT_EQ(bytes, "one two");
}

TEST(OutputAssembler, NoLogprobsUnlessAsked) {
  const Transcript t = assemble("<|channel|>final<|message|>Hi<|return|>");
  EXPECT_TRUE(t.output.logprobs.empty());
  for (const OutputEvent& e : t.events) EXPECT_TRUE(e.logprobs.empty());
}

// --- Raw completions

TEST(OutputAssembler, RawTextIsAllContent) {
  const std::string text = "<|channel|>analysis<|message|>not parsed";
  const Transcript t = assemble(text, FinishReason::length, options_with({}, true, /*harmony=*/false));
  expect_events_add_up(t);
  EXPECT_EQ(t.output.content, text);
  EXPECT_EQ(t.output.reasoning_tokens, 0);
  EXPECT_EQ(t.output.logprobs.size(), tokens_of(text).size());
  EXPECT_EQ(t.output.finish_reason, "length");
}

TEST(OutputAssembler, RawStopTokenAndStopString) {
  const Transcript plain = assemble("Once upon a time<|endoftext|>", FinishReason::stop,
                                    options_with({}, false, /*harmony=*/false));
  EXPECT_EQ(plain.output.content, "Once upon a time");
  const Transcript stopped = assemble("Once upon a time there was", FinishReason::length,
                                      options_with({"n a t"}, false, /*harmony=*/false));
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(stopped.output.content, "Once upo");
  EXPECT_EQ(stopped.output.finish_reason, "stop");
}

TEST(OutputAssembler, TokensAfterTheStopStillCount) {
  OutputAssembler assembler(gpt_oss_tokenizer(), options_with({"b"}, false, false));
  const std::vector<int32_t> ids = tokens_of("a b c d");
  for (size_t i = 0; i < ids.size(); ++i) assembler.feed(token_event(ids[i], i));
  assembler.finish(FinishReason::cancelled);
  EXPECT_EQ(assembler.output().completion_tokens, static_cast<int>(ids.size()));
  EXPECT_EQ(assembler.output().content, "a ");
}

}  // namespace
}  // namespace gptoss::server::test
