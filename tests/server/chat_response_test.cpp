// The chat.completion object and chat.completion.chunk stream, field by field against shapes
// written from the OpenAI API reference (Chat Completions: the chat completion object, the chat
// completion chunk object, stream_options.include_usage).
#include <gtest/gtest.h>

#include "server/chat_response.h"
#include "server/sse_reader.h"
#include "server/transcript.h"

namespace gptoss::server::test {
namespace {

using nlohmann::json;

ChatResponseInfo info(bool logprobs = false) {
  return {"chatcmpl-test", 1700000000, "gpt-oss-20b", "fp_gptoss", logprobs};
}

Usage usage() { return {.prompt_tokens = 20, .cached_tokens = 16, .completion_tokens = 9, .reasoning_tokens = 4}; }

const json kUsage = json::parse(R"({
  "prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29,
  "prompt_tokens_details": {"cached_tokens": 16},
  "completion_tokens_details": {"reasoning_tokens": 4}})");

TEST(ChatCompletion, ReasoningAndAnswer) {
  AssembledOutput output;
  output.reasoning = "The user says hi.";
  output.content = "Hello!";
  output.finish_reason = "stop";
  const json expected = json::parse(R"({
    "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "gpt-oss-20b",
    "system_fingerprint": "fp_gptoss",
    "choices": [{"index": 0,
                 "message": {"role": "assistant", "content": "Hello!", "refusal": null,
                             "reasoning_content": "The user says hi."},
                 "logprobs": null, "finish_reason": "stop"}]})");
  json got = chat_completion(info(), {output}, usage());
  EXPECT_EQ(got["usage"], kUsage);
  got.erase("usage");
  EXPECT_EQ(got, expected) << got.dump(2);
}

TEST(ChatCompletion, ToolCallsWithoutContent) {
  AssembledOutput output;
  output.tool_calls = {{"call_x_0", "get_weather", R"({"city":"Paris"})"}, {"call_x_1", "get_time", "{}"}};
  output.finish_reason = "tool_calls";
  const json message = chat_completion(info(), {output}, usage())["choices"][0]["message"];
  const json expected = json::parse(R"({
    "role": "assistant", "content": null, "refusal": null,
    "tool_calls": [
      {"id": "call_x_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_x_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]})");
  EXPECT_EQ(message, expected) << message.dump(2);
}

TEST(ChatCompletion, EmptyAnswerIsAnEmptyString) {
  AssembledOutput output;
  output.finish_reason = "length";
  const json choice = chat_completion(info(), {output}, usage())["choices"][0];
  EXPECT_EQ(choice["message"]["content"], "");
  EXPECT_FALSE(choice["message"].contains("reasoning_content"));
  EXPECT_FALSE(choice["message"].contains("tool_calls"));
  EXPECT_EQ(choice["finish_reason"], "length");
}

TEST(ChatCompletion, Logprobs) {
  AssembledOutput output;
  output.content = "Hi€";
  // "€" split over two tokens: the first holds two of its three bytes.
  output.logprobs = {{"Hi", {'H', 'i'}, -0.5f, {{"Hi", -0.5f}, {"Hello", -1.5f}}, {{'H', 'i'}, {'H', 'e', 'l', 'l', 'o'}}},
                     {"\xE2\x82", {0xE2, 0x82}, -2.0f, {}, {}},
                     {"\xAC", {0xAC}, -0.25f, {}, {}}};
  output.finish_reason = "stop";
  const json logprobs = chat_completion(info(/*logprobs=*/true), {output}, usage())["choices"][0]["logprobs"];
  const json expected = json::parse(R"({
    "content": [
      {"token": "Hi", "logprob": -0.5, "bytes": [72, 105],
       "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]},
                        {"token": "Hello", "logprob": -1.5, "bytes": [72, 101, 108, 108, 111]}]},
      {"token": "\ufffd", "logprob": -2.0, "bytes": [226, 130], "top_logprobs": []},
      {"token": "\ufffd", "logprob": -0.25, "bytes": [172], "top_logprobs": []}],
    "refusal": null})");
  EXPECT_EQ(logprobs, expected) << logprobs.dump(2);
}

TEST(ChatCompletion, SeveralChoices) {
  AssembledOutput a, b;
  a.content = "A";
  a.finish_reason = "stop";
  b.content = "B";
  b.finish_reason = "length";
  const json choices = chat_completion(info(), {a, b}, usage())["choices"];
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[1]["index"], 1);
  EXPECT_EQ(choices[1]["message"]["content"], "B");
  EXPECT_EQ(choices[1]["finish_reason"], "length");
}

// --- Streaming

// The chat.completion.chunk objects of a stream, and [DONE] at its end.
std::vector<json> read_chunks(const std::string& stream) {
  std::vector<ServerEvent> events = read_events(stream);
  EXPECT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "[DONE]");
  std::vector<json> chunks;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_TRUE(events[i].name.empty());
    chunks.push_back(events[i].json());
  }
  return chunks;
}

// Puts a choice's deltas back together as the message the non-streaming object would carry.
struct Rebuilt {
  json message = {{"content", ""}};
  std::string reasoning;
  json finish_reason;
  int first_chunks = 0;
  int last_chunks = 0;
  std::vector<json> logprobs;
};

void rebuild(const json& choice, Rebuilt& r) {
  const json& delta = choice.at("delta");
  if (delta.contains("role")) {
    EXPECT_EQ(delta, json::parse(R"({"role": "assistant", "content": ""})"));
    EXPECT_EQ(r.first_chunks + r.last_chunks, 0) << "the role chunk comes first";
    ++r.first_chunks;
    return;
  }
  if (!choice.at("finish_reason").is_null()) {
    EXPECT_EQ(delta, json::object());
    r.finish_reason = choice["finish_reason"];
    ++r.last_chunks;
    return;
  }
  EXPECT_EQ(r.last_chunks, 0) << "nothing after the last chunk";
  ASSERT_EQ(delta.size(), 1u) << "a delta never mixes kinds: " << delta.dump();
  if (delta.contains("content")) {
    r.message["content"] = r.message["content"].get<std::string>() + delta["content"].get<std::string>();
    if (!choice["logprobs"].is_null())
      for (const json& lp : choice["logprobs"]["content"]) r.logprobs.push_back(lp);
  } else if (delta.contains("reasoning_content")) {
    EXPECT_TRUE(choice["logprobs"].is_null());
    r.reasoning += delta["reasoning_content"].get<std::string>();
  } else {
    const json& calls = delta.at("tool_calls");
    ASSERT_EQ(calls.size(), 1u);
    const json& call = calls[0];
    const size_t index = call.at("index").get<size_t>();
    if (call.contains("id")) {  // a new call: id, type and name once, arguments to come
      EXPECT_EQ(call["type"], "function");
      EXPECT_EQ(call["function"]["arguments"], "");
      EXPECT_EQ(index, r.message["tool_calls"].size());
      r.message["tool_calls"].push_back(
          {{"id", call["id"]}, {"type", "function"}, {"function", {{"name", call["function"]["name"]}, {"arguments", ""}}}});
    } else {
      EXPECT_EQ(call.size(), 2u);  // index and function
      EXPECT_EQ(call["function"].size(), 1u);
      ASSERT_LT(index, r.message["tool_calls"].size());
      json& arguments = r.message["tool_calls"][index]["function"]["arguments"];
      arguments = arguments.get<std::string>() + call["function"]["arguments"].get<std::string>();
    }
  }
}

TEST(ChatStream, ChunksAddUpToTheCompletion) {
  const Transcript first = assemble(
      "<|channel|>analysis<|message|>Weather, then time.<|end|>"
      "<|start|>assistant<|channel|>commentary<|message|>Checking.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}<|call|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{\"tz\":\"CET\"}<|call|>");
  const Transcript second = assemble(
      "<|channel|>analysis<|message|>Short.<|end|><|start|>assistant<|channel|>final<|message|>Hello there, friend.<|return|>",
      FinishReason::stop, options_with({}, /*logprobs=*/true));

  ChatStreamWriter writer(info(/*logprobs=*/true), 2, /*include_usage=*/true);
  std::string stream = writer.start(1);
  // The choices' events interleave, one at a time.
  for (size_t i = 0; i < std::max(first.events.size(), second.events.size()); ++i) {
    if (i < first.events.size()) stream += writer.events(0, {first.events[i]});
    if (i < second.events.size()) stream += writer.events(1, {second.events[i]});
  }
  stream += writer.finish(1, second.output);
  stream += writer.finish(0, first.output);
  stream += writer.end(usage());

  const std::vector<json> chunks = read_chunks(stream);
  Rebuilt rebuilt[2];
  for (size_t i = 0; i < chunks.size(); ++i) {
    const json& chunk = chunks[i];
    EXPECT_EQ(chunk["id"], "chatcmpl-test");
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["created"], 1700000000);
    EXPECT_EQ(chunk["model"], "gpt-oss-20b");
    EXPECT_EQ(chunk["system_fingerprint"], "fp_gptoss");
    if (i + 1 == chunks.size()) {  // the usage chunk
      EXPECT_EQ(chunk["choices"], json::array());
      EXPECT_EQ(chunk["usage"], kUsage);
      continue;
    }
    EXPECT_TRUE(chunk.at("usage").is_null());
    ASSERT_EQ(chunk["choices"].size(), 1u);
    const json& choice = chunk["choices"][0];
    EXPECT_EQ(choice.size(), 4u);  // index, delta, logprobs, finish_reason
    rebuild(choice, rebuilt[choice.at("index").get<size_t>()]);
  }

  const json completion = chat_completion(info(true), {first.output, second.output}, usage());
  for (size_t c = 0; c < 2; ++c) {
    const Rebuilt& r = rebuilt[c];
    EXPECT_EQ(r.first_chunks, 1);
    EXPECT_EQ(r.last_chunks, 1);
    const json& choice = completion["choices"][c];
    EXPECT_EQ(r.finish_reason, choice["finish_reason"]);
    EXPECT_EQ(r.reasoning, choice["message"].value("reasoning_content", ""));
    EXPECT_EQ(r.message["content"], choice["message"]["content"].is_null() ? json("") : choice["message"]["content"]);
    EXPECT_EQ(r.message.value("tool_calls", json()), choice["message"].value("tool_calls", json()));
    EXPECT_EQ(json(r.logprobs), choice["logprobs"]["content"]);
  }
  EXPECT_EQ(completion["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(completion["choices"][0]["message"]["content"], "Checking.");
  EXPECT_EQ(completion["choices"][0]["message"]["tool_calls"].size(), 2u);
  EXPECT_EQ(completion["choices"][1]["message"]["content"], "Hello there, friend.");
  EXPECT_FALSE(completion["choices"][1]["logprobs"]["content"].empty());
}

TEST(ChatStream, WithoutUsage) {
  ChatStreamWriter writer(info(), 1, /*include_usage=*/false);
  AssembledOutput output;
  output.content = "x";
  output.finish_reason = "stop";
  OutputEvent event;
  event.text = "x";
  std::string stream = writer.events(0, {event});  // one statement each: the order of the calls matters
  stream += writer.finish(0, output);
  stream += writer.end(usage());
  const std::vector<json> chunks = read_chunks(stream);
  ASSERT_EQ(chunks.size(), 3u);  // role, content, finish
  for (const json& chunk : chunks) EXPECT_FALSE(chunk.contains("usage"));
  EXPECT_EQ(chunks[1]["choices"][0]["delta"], json::parse(R"({"content": "x"})"));
  EXPECT_TRUE(chunks[1]["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(chunks[2]["choices"][0]["finish_reason"], "stop");
}

TEST(ChatStream, ToolCallChunkShapes) {
  ChatStreamWriter writer(info(), 1, false);
  OutputEvent start;
  start.kind = OutputEvent::Kind::tool_call_start;
  start.tool_index = 0;
  start.call_id = "call_x_0";
  start.name = "get_weather";
  OutputEvent arguments;
  arguments.kind = OutputEvent::Kind::tool_call_arguments;
  arguments.tool_index = 0;
  arguments.text = "{\"ci";
  std::string stream = writer.events(0, {start, arguments});
  stream += writer.end(usage());
  const std::vector<json> chunks = read_chunks(stream);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[1]["choices"][0]["delta"], json::parse(R"({"tool_calls": [{"index": 0, "id": "call_x_0",
      "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})"));
  EXPECT_EQ(chunks[2]["choices"][0]["delta"],
            json::parse(R"({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]})"));
}

}  // namespace
}  // namespace gptoss::server::test
