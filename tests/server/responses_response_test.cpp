// The Responses API `response` object and its event stream, against shapes written from the
// OpenAI API reference (the response object; streaming events: response.created …
// response.completed) and the order the openai SDK's stream accumulator relies on.
#include <gtest/gtest.h>

#include "server/responses_response.h"
#include "server/sse_reader.h"
#include "server/transcript.h"

namespace gptoss::server::test {
namespace {

using nlohmann::json;

Usage usage() { return {.prompt_tokens = 30, .cached_tokens = 0, .completion_tokens = 12, .reasoning_tokens = 5}; }

ResponseInfo info(const json& body = json::object()) { return {"resp_abc", 1700000000, "gpt-oss-20b", response_settings(body)}; }

// The answer: analysis, a preamble, a tool call.
AssembledOutput answer() {
  AssembledOutput output;
  output.reasoning = "Need the weather.";
  output.content = "Let me check.";
  output.tool_calls = {{"call_q_0", "get_weather", R"({"city":"Paris"})"}};
  output.finish_reason = "tool_calls";
  output.messages = {harmony::Message::assistant("analysis", "Need the weather."),
                     harmony::Message::assistant("commentary", "Let me check."),
                     harmony::Message::tool_call("functions.get_weather", R"({"city":"Paris"})")};
  return output;
}

TEST(ResponseObject, Completed) {
  const json expected = json::parse(R"({
    "id": "resp_abc", "object": "response", "created_at": 1700000000, "status": "completed",
    "error": null, "incomplete_details": null, "model": "gpt-oss-20b",
    "instructions": null, "metadata": {}, "previous_response_id": null,
    "temperature": 1.0, "top_p": 1.0, "tools": [], "tool_choice": "auto",
    "text": {"format": {"type": "text"}}, "reasoning": {"effort": "medium", "summary": null},
    "parallel_tool_calls": true, "max_output_tokens": null, "store": true,
    "output": [
      {"type": "reasoning", "id": "rs_abc_0", "summary": [],
       "content": [{"type": "reasoning_text", "text": "Need the weather."}]},
      {"type": "message", "id": "msg_abc_1", "role": "assistant", "status": "completed",
       "content": [{"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []}]},
      {"type": "function_call", "id": "fc_abc_2", "call_id": "call_q_0", "name": "get_weather",
       "arguments": "{\"city\":\"Paris\"}", "status": "completed"}],
    "usage": {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 12,
              "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 42}})");
  const json got = response_object(info(), answer(), usage());
  EXPECT_EQ(got, expected) << got.dump(2);
}

TEST(ResponseObject, EchoesTheRequestSettings) {
  const json body = json::parse(R"({
    "model": "gpt-oss-20b", "input": "hi", "instructions": "Be terse.", "metadata": {"k": "v"},
    "previous_response_id": "resp_prev", "temperature": 0.5, "top_p": 0.9,
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true}],
    "tool_choice": "required", "text": {"format": {"type": "json_object"}}, "reasoning": {"effort": "high"},
    "parallel_tool_calls": false, "max_output_tokens": 64, "store": false})");
  const json got = response_object(info(body), answer(), usage());
  EXPECT_EQ(got["instructions"], "Be terse.");
  EXPECT_EQ(got["metadata"], body["metadata"]);
  EXPECT_EQ(got["previous_response_id"], "resp_prev");
  EXPECT_EQ(got["temperature"], 0.5);
  EXPECT_EQ(got["top_p"], 0.9);
  EXPECT_EQ(got["tools"], body["tools"]);
  EXPECT_EQ(got["tool_choice"], "required");
  EXPECT_EQ(got["text"], json::parse(R"({"format": {"type": "json_object"}})"));
  EXPECT_EQ(got["reasoning"], json::parse(R"({"effort": "high", "summary": null})"));
  EXPECT_EQ(got["parallel_tool_calls"], false);
  EXPECT_EQ(got["max_output_tokens"], 64);
  EXPECT_EQ(got["store"], false);
  EXPECT_FALSE(got.contains("input"));
}

TEST(ResponseObject, IncompleteAtMaxOutputTokens) {
  AssembledOutput output;
  output.content = "The first";
  output.finish_reason = "length";
  output.messages = {harmony::Message::assistant("final", "The first")};
  const json got = response_object(info(), output, usage());
  EXPECT_EQ(got["status"], "incomplete");
  EXPECT_EQ(got["incomplete_details"], json::parse(R"({"reason": "max_output_tokens"})"));
  ASSERT_EQ(got["output"].size(), 1u);
  EXPECT_EQ(got["output"][0]["content"][0]["text"], "The first");
}

TEST(ResponseObject, TextOfOneKindIsOneItem) {
  // A broken answer: a final message, then the rest as plain text (another final message).
  AssembledOutput output;
  output.content = "Hi<|start|>x";
  output.finish_reason = "length";
  output.messages = {harmony::Message::assistant("final", "Hi"), harmony::Message::assistant("commentary", ""),
                     harmony::Message::assistant("final", "<|start|>x")};
  const json got = response_object(info(), output, usage());
  ASSERT_EQ(got["output"].size(), 1u);
  EXPECT_EQ(got["output"][0]["content"][0]["text"], "Hi<|start|>x");
}

TEST(ResponseObject, LogprobsOfEachMessage) {
  const Transcript t = assemble(
      "<|channel|>commentary<|message|>First part.<|end|><|start|>assistant<|channel|>analysis<|message|>Hmm.<|end|>"
      "<|start|>assistant<|channel|>final<|message|>Second part.<|return|>",
      FinishReason::stop, options_with({}, /*logprobs=*/true));
  const json output = response_object(info(), t.output, usage())["output"];
  ASSERT_EQ(output.size(), 3u);
  for (const size_t i : {0u, 2u}) {
    std::string tokens;
    for (const json& lp : output[i]["content"][0]["logprobs"]) tokens += lp["token"].get<std::string>();
    EXPECT_EQ(tokens, output[i]["content"][0]["text"]);
  }
}

// --- Streaming

struct Stream {
  std::vector<std::string> types;
  std::vector<json> events;
};

Stream read_stream(const std::string& text) {
  Stream stream;
  for (const ServerEvent& e : read_events(text)) {
    const json event = e.json();
    EXPECT_EQ(e.name, event.at("type")) << "the SSE event name is the event's type";
    EXPECT_EQ(event.at("sequence_number"), stream.events.size());
    stream.types.push_back(e.name);
    stream.events.push_back(event);
  }
  return stream;
}

std::string write_stream(const Transcript& t, const ResponseInfo& response) {
  ResponseStreamWriter writer(response);
  std::string text = writer.start();
  for (const OutputEvent& event : t.events) text += writer.events({event});
  text += writer.finish(t.output, usage());
  return text;
}

TEST(ResponseStream, EventOrder) {
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Hi.<|return|>");
  const Stream s = read_stream(write_stream(t, info()));
  std::vector<std::string> deduplicated;  // runs of deltas as one
  for (const std::string& type : s.types)
    if (deduplicated.empty() || deduplicated.back() != type || !type.ends_with(".delta")) deduplicated.push_back(type);
  const std::vector<std::string> expected = {
      "response.created", "response.in_progress",
      "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta",
      "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
      "response.output_item.added", "response.content_part.added", "response.output_text.delta",
      "response.output_text.done", "response.content_part.done", "response.output_item.done",
      "response.completed"};
  EXPECT_EQ(deduplicated, expected);

  EXPECT_EQ(s.events[0]["response"]["status"], "in_progress");
  EXPECT_EQ(s.events[0]["response"]["output"], json::array());
  EXPECT_TRUE(s.events[0]["response"]["usage"].is_null());
  EXPECT_EQ(s.events[1]["response"], s.events[0]["response"]);

  const json added = s.events[2];
  EXPECT_EQ(added["output_index"], 0);
  EXPECT_EQ(added["item"], json::parse(R"({"type": "reasoning", "id": "rs_abc_0", "summary": [], "content": []})"));
  EXPECT_EQ(s.events[3], json::parse(R"({"type": "response.content_part.added", "sequence_number": 3,
      "item_id": "rs_abc_0", "output_index": 0, "content_index": 0, "part": {"type": "reasoning_text", "text": ""}})"));
}

TEST(ResponseStream, DeltasAddUpToTheResponse) {
  const Transcript t = assemble(
      "<|channel|>analysis<|message|>Weather first.<|end|>"
      "<|start|>assistant<|channel|>commentary<|message|>One moment.<|end|>"
      "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Oslo\"}<|call|>",
      FinishReason::stop, options_with({}, /*logprobs=*/true));
  const Stream s = read_stream(write_stream(t, info()));
  const json final_response = s.events.back()["response"];
  EXPECT_EQ(s.types.back(), "response.completed");
  EXPECT_EQ(final_response, response_object(info(), t.output, usage()));

  // Rebuild the output the way the SDK's accumulator does, from the events alone.
  json output = json::array();
  for (const json& e : s.events) {
    const std::string type = e["type"];
    if (type == "response.output_item.added") {
      EXPECT_EQ(e["output_index"], output.size());
      output.push_back(e["item"]);
    } else if (type == "response.content_part.added") {
      output.at(e["output_index"].get<size_t>())["content"].push_back(e["part"]);
    } else if (type == "response.output_text.delta" || type == "response.reasoning_text.delta") {
      json& part = output.at(e["output_index"].get<size_t>())["content"].at(e["content_index"].get<size_t>());
      part["text"] = part["text"].get<std::string>() + e["delta"].get<std::string>();
      if (type == "response.output_text.delta")
        for (const json& lp : e["logprobs"]) part["logprobs"].push_back(lp);
    } else if (type == "response.function_call_arguments.delta") {
      json& item = output.at(e["output_index"].get<size_t>());
      item["arguments"] = item["arguments"].get<std::string>() + e["delta"].get<std::string>();
    } else if (type == "response.function_call_arguments.done") {
      const json& item = output.at(e["output_index"].get<size_t>());
      EXPECT_EQ(e["arguments"], item["arguments"]);
      EXPECT_EQ(e["name"], item["name"]);
      EXPECT_EQ(e["item_id"], item["id"]);
    } else if (type == "response.output_text.done" || type == "response.reasoning_text.done") {
      const json& item = output.at(e["output_index"].get<size_t>());
      EXPECT_EQ(e["item_id"], item["id"]);
      EXPECT_EQ(e["text"], item["content"][0]["text"]);
    } else if (type == "response.output_item.done") {
      json item = output.at(e["output_index"].get<size_t>());
      if (item.contains("status")) item["status"] = "completed";
      EXPECT_EQ(e["item"], item);
      EXPECT_EQ(e["item"], final_response["output"][e["output_index"].get<size_t>()]);
    }
  }
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(output[0]["content"][0]["text"], "Weather first.");
  EXPECT_EQ(output[1]["content"][0]["text"], "One moment.");
  EXPECT_EQ(output[2]["arguments"], R"({"city":"Oslo"})");
  EXPECT_EQ(output[2]["call_id"], "call_test_0");
  EXPECT_EQ(output[2]["name"], "get_weather");
  EXPECT_EQ(final_response["output"][2]["id"], "fc_abc_2");
}

TEST(ResponseStream, FunctionCallEvents) {
  const Transcript t = assemble(
      "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\":1}<|call|>");
  const Stream s = read_stream(write_stream(t, info()));
  ASSERT_GE(s.events.size(), 6u);
  EXPECT_EQ(s.events[2], json::parse(R"({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
      "item": {"type": "function_call", "id": "fc_abc_0", "call_id": "call_test_0", "name": "f", "arguments": "",
               "status": "in_progress"}})"));
  EXPECT_EQ(s.types[3], "response.function_call_arguments.delta");
  EXPECT_EQ(s.events[3]["item_id"], "fc_abc_0");
  EXPECT_FALSE(s.events[3].contains("content_index"));
  const size_t done = s.events.size() - 3;
  EXPECT_EQ(s.events[done], json::parse(R"({"type": "response.function_call_arguments.done", "sequence_number": )" +
                                          std::to_string(done) + R"(, "item_id": "fc_abc_0", "output_index": 0,
      "name": "f", "arguments": "{\"a\":1}"})"));
  EXPECT_EQ(s.types[done + 1], "response.output_item.done");
}

TEST(ResponseStream, IncompleteEndsWithResponseIncomplete) {
  const Transcript t = assemble("<|channel|>final<|message|>Cut off here", FinishReason::length);
  const Stream s = read_stream(write_stream(t, info()));
  EXPECT_EQ(s.types.back(), "response.incomplete");
  EXPECT_EQ(s.events.back()["response"]["status"], "incomplete");
  EXPECT_EQ(s.events.back()["response"]["output"][0]["content"][0]["text"], "Cut off here");
}

}  // namespace
}  // namespace gptoss::server::test
