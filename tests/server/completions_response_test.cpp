// The legacy text_completion object and its stream, against shapes written from the OpenAI API
// reference (Completions: the completion object, logprobs {tokens, token_logprobs, top_logprobs,
// text_offset}).
#include <gtest/gtest.h>

#include "server/completions_response.h"
#include "server/sse_reader.h"
#include "server/transcript.h"

namespace gptoss::server::test {
namespace {

using nlohmann::json;

Usage usage() { return {.prompt_tokens = 5, .cached_tokens = 0, .completion_tokens = 3, .reasoning_tokens = 0}; }

CompletionInfo info(bool logprobs = false, std::string echo = {}) {
  return {"cmpl-test", 1700000000, "gpt-oss-20b", "fp_gptoss", logprobs, std::move(echo)};
}

AssembledOutput said(std::string text, std::vector<TokenLogprob> logprobs = {}) {
  AssembledOutput output;
  output.content = std::move(text);
  output.logprobs = std::move(logprobs);
  output.finish_reason = "length";
  return output;
}

TokenLogprob logprob(std::string token, float value, std::vector<std::pair<std::string, float>> top = {}) {
  TokenLogprob lp;
  lp.token = token;
  lp.bytes.assign(token.begin(), token.end());
  lp.logprob = value;
  for (auto& [text, v] : top) lp.top_bytes.emplace_back(text.begin(), text.end());
  lp.top = std::move(top);
  return lp;
}

TEST(TextCompletion, Object) {
  const json expected = json::parse(R"({
    "id": "cmpl-test", "object": "text_completion", "created": 1700000000, "model": "gpt-oss-20b",
    "system_fingerprint": "fp_gptoss",
    "choices": [{"text": " upon a", "index": 0, "logprobs": null, "finish_reason": "length"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
              "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}})");
  const json got = text_completion(info(), {said(" upon a")}, usage());
  EXPECT_EQ(got, expected) << got.dump(2);
}

TEST(TextCompletion, LogprobsAndEcho) {
  const AssembledOutput output =
      said(" café", {logprob(" caf", -0.5f, {{" caf", -0.5f}, {" cat", -1.0f}}), logprob("é", -0.25f)});
  const json got = text_completion(info(/*logprobs=*/true, /*echo=*/"Once"), {output}, usage())["choices"][0];
  EXPECT_EQ(got["text"], "Once café");
  // Offsets count characters of the whole text, the echoed prompt's included.
  const json expected = json::parse(R"({
    "tokens": [" caf", "é"], "token_logprobs": [-0.5, -0.25],
    "top_logprobs": [{" caf": -0.5, " cat": -1.0}, {}], "text_offset": [4, 8]})");
  EXPECT_EQ(got["logprobs"], expected) << got["logprobs"].dump(2);
}

TEST(TextCompletionStream, ChunksAddUp) {
  const Transcript a = assemble("Once upon a time", FinishReason::length, options_with({}, true, /*harmony=*/false));
  const Transcript b = assemble("There was", FinishReason::stop, options_with({}, true, /*harmony=*/false));
  CompletionStreamWriter writer(info(/*logprobs=*/true, "> "), 2, /*include_usage=*/true);
  std::string stream;
  for (size_t i = 0; i < std::max(a.events.size(), b.events.size()); ++i) {
    if (i < b.events.size()) stream += writer.events(1, {b.events[i]});
    if (i < a.events.size()) stream += writer.events(0, {a.events[i]});
  }
  stream += writer.finish(0, a.output);
  stream += writer.finish(1, b.output);
  stream += writer.end(usage());

  const std::vector<ServerEvent> events = read_events(stream);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "[DONE]");
  std::string text[2];
  json tokens[2] = {json::array(), json::array()};
  json offsets[2] = {json::array(), json::array()};
  json finish[2];
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = events[i].json();
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_EQ(chunk["id"], "cmpl-test");
    if (i + 2 == events.size()) {
      EXPECT_EQ(chunk["choices"], json::array());
      EXPECT_EQ(chunk["usage"]["total_tokens"], 8);
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    ASSERT_EQ(chunk["choices"].size(), 1u);
    const json& choice = chunk["choices"][0];
    const size_t c = choice["index"];
    EXPECT_TRUE(finish[c].is_null()) << "nothing after the last chunk";
    text[c] += choice["text"].get<std::string>();
    for (const json& t : choice["logprobs"]["tokens"]) tokens[c].push_back(t);
    for (const json& o : choice["logprobs"]["text_offset"]) offsets[c].push_back(o);
    finish[c] = choice["finish_reason"];
  }
  const json whole = text_completion(info(true, "> "), {a.output, b.output}, usage());
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(text[c], whole["choices"][c]["text"]);
    EXPECT_EQ(tokens[c], whole["choices"][c]["logprobs"]["tokens"]);
    EXPECT_EQ(offsets[c], whole["choices"][c]["logprobs"]["text_offset"]);
    EXPECT_EQ(finish[c], whole["choices"][c]["finish_reason"]);
  }
  EXPECT_EQ(text[0], "> Once upon a time");
  EXPECT_EQ(finish[1], "stop");
}

}  // namespace
}  // namespace gptoss::server::test
