// The OpenAI request parsers: each mapping rule checked on the harmony text the parsed
// conversation renders to, written by hand from the harmony format (gpt-oss-model.md §4.2–4.7),
// and each validation error by its status and the field it names.
#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "gptoss/harmony.h"
#include "server/api_error.h"
#include "server/api_request.h"

namespace gptoss::server {
namespace {

using nlohmann::json;

ParseContext test_context() {
  ParseContext context;
  context.current_date = "2025-06-28";
  return context;
}

// Harmony's system message on 2025-06-28 (§4.3); the last line only when the developer
// message declares functions.
std::string system_message(const std::string& effort = "medium", bool function_tools = false) {
  return "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
         "Knowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: " +
         effort +
         "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message." +
         (function_tools ? "\nCalls to these tools must go to the commentary channel: 'functions'." : "") + "<|end|>";
}

// The developer message declaring get_weather(location: string) (§4.4), after `instructions`.
std::string weather_developer_message(const std::string& instructions = "") {
  return "<|start|>developer<|message|>" + (instructions.empty() ? "" : "# Instructions\n\n" + instructions + "\n\n") +
         "# Tools\n\n## functions\n\nnamespace functions {\n\n"
         "// Gets the weather.\ntype get_weather = (_: {\n// The city\nlocation: string,\n}) => any;\n\n"
         "} // namespace functions<|end|>";
}

const json kWeatherParameters = json::parse(R"({
  "type": "object",
  "properties": {"location": {"type": "string", "description": "The city"}},
  "required": ["location"]
})");

json chat_weather_tool() {
  return {{"type", "function"},
          {"function", {{"name", "get_weather"}, {"description", "Gets the weather."}, {"parameters", kWeatherParameters}}}};
}

using Parse = ApiRequest (*)(const json&, const ParseContext&);

std::string prompt_of(Parse parse, const json& body) {
  return harmony::render_text_for_completion(parse(body, test_context()).conversation);
}

std::string chat_prompt(const json& body) { return prompt_of(parse_chat_request, body); }

// The `param` of the ApiError that parsing `body` throws, after checking its status and type.
std::string error_param(Parse parse, const json& body, int status = 400) {
  try {
    parse(body, test_context());
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_EQ(e.type(), "invalid_request_error");
    EXPECT_NE(std::string(e.what()).find(e.param()), std::string::npos) << "the message names the field: " << e.what();
    return e.param();
  }
  ADD_FAILURE() << "no ApiError for " << body.dump();
  return "(accepted)";
}

std::string chat_error(const json& body) { return error_param(parse_chat_request, body); }

// A chat body with one user message and `fields` added.
json chat(json fields = json::object()) {
  json body = {{"model", "gpt-oss-20b"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
  body.update(fields);
  return body;
}

const std::string kUserHi = "<|start|>user<|message|>Hi<|end|>";
const std::string kNext = "<|start|>assistant";

// --- Chat completions: the conversation -------------------------------------------------------

TEST(ChatRequest, OneUserMessageUnderTheDefaultSystemMessage) {
  const ApiRequest request = parse_chat_request(chat(), test_context());
  EXPECT_EQ(request.endpoint, Endpoint::chat_completions);
  EXPECT_EQ(request.model, "gpt-oss-20b");
  EXPECT_EQ(harmony::render_text_for_completion(request.conversation), system_message() + kUserHi + kNext);
}

TEST(ChatRequest, TodayWhenTheContextHasNoDate) {
  const ApiRequest request = parse_chat_request(chat(), ParseContext{});
  EXPECT_EQ(std::get<harmony::SystemContent>(request.conversation.front().content).current_date,
            harmony::current_date());
}

TEST(ChatRequest, ReasoningEffortFromEitherField) {
  EXPECT_EQ(chat_prompt(chat({{"reasoning_effort", "high"}})), system_message("high") + kUserHi + kNext);
  EXPECT_EQ(chat_prompt(chat({{"reasoning", {{"effort", "low"}}}})), system_message("low") + kUserHi + kNext);
  EXPECT_EQ(chat_prompt(chat({{"reasoning_effort", "minimal"}})), system_message("low") + kUserHi + kNext);
  EXPECT_EQ(chat_prompt(chat({{"reasoning_effort", "high"}, {"reasoning", {{"effort", "low"}}}})),
            system_message("high") + kUserHi + kNext);
  EXPECT_EQ(chat_error(chat({{"reasoning_effort", "extreme"}})), "reasoning_effort");
  EXPECT_EQ(chat_error(chat({{"reasoning_effort", 2}})), "reasoning_effort");
  EXPECT_EQ(chat_error(chat({{"reasoning", {{"effort", "max"}}}})), "reasoning.effort");
  EXPECT_EQ(chat_error(chat({{"reasoning", "high"}})), "reasoning");
}

TEST(ChatRequest, SystemAndDeveloperMessagesBecomeDeveloperInstructions) {
  const json body = json::parse(R"({"model": "m", "messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]}
  ]})");
  EXPECT_EQ(chat_prompt(body), system_message() +
                                   "<|start|>developer<|message|># Instructions\n\nYou are terse.\n\nAnswer in "
                                   "French.<|end|>" +
                                   kUserHi + kNext);
}

TEST(ChatRequest, UserContentAsTextParts) {
  const json body = json::parse(R"({"model": "m", "messages": [{"role": "user", "content": [
    {"type": "text", "text": "First line."}, {"type": "text", "text": "Second line."}]}]})");
  EXPECT_EQ(chat_prompt(body), system_message() + "<|start|>user<|message|>First line.\nSecond line.<|end|>" + kNext);
}

TEST(ChatRequest, RefusesNonTextParts) {
  const json body = json::parse(R"({"model": "m", "messages": [{"role": "user", "content": [
    {"type": "text", "text": "What is this?"},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})");
  EXPECT_EQ(chat_error(body), "messages[0].content[1].type");
  EXPECT_EQ(chat_error(json::parse(R"({"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]})")),
            "messages[0].content[0].type");
  EXPECT_EQ(chat_error(json::parse(R"({"model": "m", "messages": [{"role": "user", "content": 42}]})")),
            "messages[0].content");
}

TEST(ChatRequest, ToolsGoToTheDeveloperMessage) {
  json body = chat({{"tools", {chat_weather_tool()}}});
  body["messages"].insert(body["messages"].begin(), json{{"role", "system"}, {"content", "Be helpful."}});
  const ApiRequest request = parse_chat_request(body, test_context());
  EXPECT_EQ(harmony::render_text_for_completion(request.conversation),
            system_message("medium", true) + weather_developer_message("Be helpful.") + kUserHi + kNext);
  EXPECT_EQ(request.tool_choice.kind, ToolChoice::Kind::automatic);
  EXPECT_TRUE(request.parallel_tool_calls);
}

TEST(ChatRequest, ToolWithoutParameters) {
  const json tool = {{"type", "function"}, {"function", {{"name", "get_time"}}}};
  EXPECT_EQ(chat_prompt(chat({{"tools", {tool}}})),
            system_message("medium", true) +
                "<|start|>developer<|message|># Tools\n\n## functions\n\nnamespace functions {\n\n"
                "type get_time = () => any;\n\n} // namespace functions<|end|>" +
                kUserHi + kNext);
}

TEST(ChatRequest, ToolChoice) {
  const json tools = {chat_weather_tool()};
  const auto choice = [&](const json& value) {
    return parse_chat_request(chat({{"tools", tools}, {"tool_choice", value}}), test_context()).tool_choice;
  };
  EXPECT_EQ(choice("auto").kind, ToolChoice::Kind::automatic);
  EXPECT_EQ(choice("required").kind, ToolChoice::Kind::required);
  const ToolChoice named = choice({{"type", "function"}, {"function", {{"name", "get_weather"}}}});
  EXPECT_EQ(named.kind, ToolChoice::Kind::named);
  EXPECT_EQ(named.name, "get_weather");
  // "none" forbids calls but leaves the tools declared: the conversation says what exists.
  const ApiRequest none = parse_chat_request(chat({{"tools", tools}, {"tool_choice", "none"}}), test_context());
  EXPECT_EQ(none.tool_choice.kind, ToolChoice::Kind::none);
  EXPECT_EQ(harmony::render_text_for_completion(none.conversation),
            system_message("medium", true) + weather_developer_message() + kUserHi + kNext);
  EXPECT_FALSE(parse_chat_request(chat({{"tools", tools}, {"parallel_tool_calls", false}}), test_context())
                   .parallel_tool_calls);

  EXPECT_EQ(chat_error(chat({{"tools", tools}, {"tool_choice", "any"}})), "tool_choice");
  EXPECT_EQ(chat_error(chat({{"tools", tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "x"}}}}}})),
            "tool_choice");
  EXPECT_EQ(chat_error(chat({{"tool_choice", "required"}})), "tool_choice");
  EXPECT_EQ(chat_error(chat({{"tools", tools}, {"parallel_tool_calls", "yes"}})), "parallel_tool_calls");
}

TEST(ChatRequest, RefusesMalformedTools) {
  const auto with_function = [](json function) {
    return chat({{"tools", {{{"type", "function"}, {"function", std::move(function)}}}}});
  };
  EXPECT_EQ(chat_error(with_function({{"name", ""}})), "tools[0].function.name");
  EXPECT_EQ(chat_error(with_function({{"name", "get weather"}})), "tools[0].function.name");
  EXPECT_EQ(chat_error(with_function({{"name", std::string(65, 'a')}})), "tools[0].function.name");
  EXPECT_EQ(chat_error(with_function({{"description", "no name"}})), "tools[0].function.name");
  EXPECT_EQ(chat_error(with_function({{"name", "f"}, {"parameters", "{}"}})), "tools[0].function.parameters");
  EXPECT_EQ(chat_error(with_function({{"name", "f"}, {"description", 1}})), "tools[0].function.description");
  EXPECT_EQ(chat_error(chat({{"tools", {{{"type", "code_interpreter"}}}}})), "tools[0].type");
  EXPECT_EQ(chat_error(chat({{"tools", {chat_weather_tool(), chat_weather_tool()}}})), "tools[1].function.name");
  EXPECT_EQ(chat_error(chat({{"tools", chat_weather_tool()}})), "tools");
  EXPECT_NO_THROW(parse_chat_request(with_function({{"name", "A-z_09"}}), test_context()));
}

// Multi-turn tool use: the reasoning that led to a pending call is shown again, a finished turn's
// reasoning is not (§4.5), also while a later turn's call is pending.
TEST(ChatRequest, MultiTurnToolUse) {
  json body = json::parse(R"({"model": "m", "messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "reasoning_content": "Need the weather tool.",
     "tool_calls": [{"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 18}"}
  ]})");
  body["tools"] = {chat_weather_tool()};
  const std::string first_turn =
      "<|start|>user<|message|>Weather in Paris?<|end|>"
      "<|start|>assistant<|channel|>analysis<|message|>Need the weather tool.<|end|>"
      "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
      "{\"location\":\"Paris\"}<|call|>"
      "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"temperature\": 18}<|end|>";
  const std::string head = system_message("medium", true) + weather_developer_message();
  const ApiRequest pending = parse_chat_request(body, test_context());
  EXPECT_EQ(harmony::render_text_for_completion(pending.conversation), head + first_turn + kNext);
  EXPECT_EQ(pending.tool_call_names, (std::map<std::string, std::string>{{"call_1", "get_weather"}}));

  // The answer, and a new question: the finished turn's analysis is no longer shown.
  body["messages"].push_back(
      {{"role", "assistant"}, {"reasoning", "It is 18 degrees."}, {"content", "18 °C in Paris."}});
  body["messages"].push_back({{"role", "user"}, {"content", "And in Rome?"}});
  const std::string first_turn_without_analysis =
      "<|start|>user<|message|>Weather in Paris?<|end|>"
      "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
      "{\"location\":\"Paris\"}<|call|>"
      "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"temperature\": 18}<|end|>";
  EXPECT_EQ(chat_prompt(body), head + first_turn_without_analysis +
                                   "<|start|>assistant<|channel|>final<|message|>18 °C in Paris.<|end|>"
                                   "<|start|>user<|message|>And in Rome?<|end|>" +
                                   kNext);

  // A call of the new turn is pending: its reasoning is shown, the finished turn's is not.
  body["messages"].push_back(
      {{"role", "assistant"},
       {"reasoning_content", "Same tool for Rome."},
       {"tool_calls",
        {{{"id", "call_2"}, {"type", "function"},
          {"function", {{"name", "get_weather"}, {"arguments", "{\"location\":\"Rome\"}"}}}}}}});
  body["messages"].push_back({{"role", "tool"}, {"tool_call_id", "call_2"}, {"content", "{\"temperature\": 24}"}});
  EXPECT_EQ(chat_prompt(body), head + first_turn_without_analysis +
                                   "<|start|>assistant<|channel|>final<|message|>18 °C in Paris.<|end|>"
                                   "<|start|>user<|message|>And in Rome?<|end|>"
                                   "<|start|>assistant<|channel|>analysis<|message|>Same tool for Rome.<|end|>"
                                   "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
                                   "<|message|>{\"location\":\"Rome\"}<|call|>"
                                   "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"
                                   "{\"temperature\": 24}<|end|>" +
                                   kNext);
}

TEST(ChatRequest, ContentBeforeToolCallsIsACommentaryPreamble) {
  const json body = json::parse(R"({"model": "m", "messages": [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": "Let me check.",
     "tool_calls": [{"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "noon"}]},
    {"role": "tool", "tool_call_id": "a", "content": "sunny"}
  ]})");
  EXPECT_EQ(chat_prompt(body),
            system_message() + "<|start|>user<|message|>Weather?<|end|>"
                               "<|start|>assistant<|channel|>commentary<|message|>Let me check.<|end|>"
                               "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
                               "<|message|>{}<|call|>"
                               "<|start|>assistant to=functions.get_time<|channel|>commentary <|constrain|>json"
                               "<|message|>{}<|call|>"
                               "<|start|>functions.get_time to=assistant<|channel|>commentary<|message|>noon<|end|>"
                               "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>sunny<|end|>" +
                               kNext);
}

TEST(ChatRequest, RefusesMalformedMessages) {
  const auto messages = [](const char* text) { return json{{"model", "m"}, {"messages", json::parse(text)}}; };
  EXPECT_EQ(chat_error(messages(R"([])")), "messages");
  EXPECT_EQ(chat_error(messages(R"({"role": "user"})")), "messages");
  EXPECT_EQ(chat_error(messages(R"(["Hi"])")), "messages[0]");
  EXPECT_EQ(chat_error(messages(R"([{"content": "Hi"}])")), "messages[0].role");
  EXPECT_EQ(chat_error(messages(R"([{"role": "function", "content": "Hi"}])")), "messages[0].role");
  EXPECT_EQ(chat_error(messages(R"([{"role": "user"}])")), "messages[0].content");
  EXPECT_EQ(chat_error(messages(R"([{"role": "assistant", "content": null}])")), "messages[0].content");
  EXPECT_EQ(chat_error(messages(R"([{"role": "assistant", "content": "x", "reasoning_content": 1}])")),
            "messages[0].reasoning_content");
  EXPECT_EQ(chat_error(messages(R"([{"role": "tool", "tool_call_id": "nope", "content": "x"}])")),
            "messages[0].tool_call_id");
  EXPECT_EQ(chat_error(messages(R"([{"role": "tool", "content": "x"}])")), "messages[0].tool_call_id");
  EXPECT_EQ(chat_error(messages(R"([{"role": "assistant", "tool_calls": [
    {"id": "a", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}])")),
            "messages[0].tool_calls[0].function.arguments");
  EXPECT_EQ(chat_error(messages(R"([{"role": "assistant", "tool_calls": [
    {"id": "a", "type": "function", "function": {"name": "f<|call|>", "arguments": "{}"}}]}])")),
            "messages[0].tool_calls[0].function.name");
  EXPECT_EQ(chat_error(messages(R"([{"role": "assistant", "tool_calls": [
    {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}])")),
            "messages[0].tool_calls[0].id");
}

TEST(ChatRequest, RefusesABodyWithoutModelOrNotAnObject) {
  EXPECT_EQ(chat_error(json::parse(R"({"messages": [{"role": "user", "content": "Hi"}]})")), "model");
  EXPECT_EQ(chat_error(chat({{"model", 7}})), "model");
  EXPECT_EQ(chat_error(json::array()), "");
  EXPECT_EQ(chat_error(json("text")), "");
}

TEST(ChatRequest, IgnoresUnknownTopLevelFields) {
  EXPECT_EQ(chat_prompt(chat({{"user", "u-1"}, {"store", 3}, {"x_unknown", {1, 2}}})), system_message() + kUserHi + kNext);
}

// --- Chat completions: generation options -----------------------------------------------------

TEST(ChatRequest, OpenAISamplingDefaults) {
  const ApiRequest request = parse_chat_request(chat(), test_context());
  const SamplerOptions& s = request.generation.sampler;
  EXPECT_EQ(s.temperature, 1.0f);
  EXPECT_EQ(s.top_p, 1.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.min_p, 0.0f);
  EXPECT_FALSE(s.seed.has_value());
  EXPECT_EQ(s.presence_penalty, 0.0f);
  EXPECT_EQ(s.frequency_penalty, 0.0f);
  EXPECT_TRUE(s.logit_bias.empty());
  EXPECT_FALSE(request.max_tokens_given);
  EXPECT_EQ(request.n, 1);
  EXPECT_FALSE(request.stream);
  EXPECT_TRUE(request.stop.empty());
  EXPECT_FALSE(request.generation.logprobs);
  EXPECT_EQ(request.response_format.kind, StructuredOutput::Kind::text);
}

TEST(ChatRequest, SamplingFields) {
  const ApiRequest request = parse_chat_request(
      chat(json::parse(R"({"temperature": 0, "top_p": 0.9, "top_k": 40.0, "min_p": 0.05, "seed": -1,
                           "frequency_penalty": 0.5, "presence_penalty": -1.5,
                           "logit_bias": {"200005": -100, "17": 2.5}})")),
      test_context());
  const SamplerOptions& s = request.generation.sampler;
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.seed, std::numeric_limits<uint64_t>::max());
  // OpenAI's penalties see everything generated so far, not mlx_lm's last 20 tokens.
  EXPECT_EQ(s.frequency_penalty, 0.5f);
  EXPECT_EQ(s.presence_penalty, -1.5f);
  EXPECT_EQ(s.frequency_context_size, std::numeric_limits<int>::max());
  EXPECT_EQ(s.presence_context_size, std::numeric_limits<int>::max());
  std::vector<std::pair<int32_t, float>> bias = s.logit_bias;
  std::sort(bias.begin(), bias.end());
  EXPECT_EQ(bias, (std::vector<std::pair<int32_t, float>>{{17, 2.5f}, {200005, -100.0f}}));
  EXPECT_EQ(parse_chat_request(chat({{"seed", 18446744073709551615u}}), test_context()).generation.sampler.seed,
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_chat_request(chat({{"seed", 42}}), test_context()).generation.sampler.seed, 42u);
}

TEST(ChatRequest, RefusesSamplingFieldsOutOfRange) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"temperature", 2.5}, {"temperature", -0.1}, {"temperature", "hot"}, {"top_p", 0}, {"top_p", 1.5},
           {"top_k", -1}, {"top_k", 1.5}, {"min_p", 2}, {"seed", 0.5}, {"seed", "7"}, {"seed", 1e20},
           {"frequency_penalty", 2.1}, {"presence_penalty", -3}, {"logit_bias", json::array({1})}}) {
    EXPECT_EQ(chat_error(chat({{field, value}})), field) << field << " = " << value.dump();
  }
  EXPECT_EQ(chat_error(chat({{"logit_bias", {{"17", 101}}}})), "logit_bias.17");
  EXPECT_EQ(chat_error(chat({{"logit_bias", {{"-5", 1}}}})), "logit_bias.-5");
  EXPECT_EQ(chat_error(chat({{"logit_bias", {{"token", 1}}}})), "logit_bias.token");
  EXPECT_EQ(chat_error(chat({{"logit_bias", {{"99999999999", 1}}}})), "logit_bias.99999999999");
  EXPECT_EQ(chat_error(chat({{"logit_bias", {{"17", "1"}}}})), "logit_bias.17");
  // null reads as absent, as in OpenAI's API.
  EXPECT_EQ(parse_chat_request(chat({{"temperature", nullptr}}), test_context()).generation.sampler.temperature, 1.0f);
}

TEST(ChatRequest, MaxTokensAndChoices) {
  const ApiRequest a = parse_chat_request(chat({{"max_tokens", 100}}), test_context());
  EXPECT_TRUE(a.max_tokens_given);
  EXPECT_EQ(a.generation.max_tokens, 100);
  const ApiRequest b =
      parse_chat_request(chat({{"max_tokens", 100}, {"max_completion_tokens", 50}, {"n", 3}}), test_context());
  EXPECT_EQ(b.generation.max_tokens, 50);
  EXPECT_EQ(b.n, 3);
  EXPECT_EQ(chat_error(chat({{"max_tokens", 0}})), "max_tokens");
  EXPECT_EQ(chat_error(chat({{"max_completion_tokens", 1e12}})), "max_completion_tokens");
  EXPECT_EQ(chat_error(chat({{"n", 0}})), "n");
  EXPECT_EQ(chat_error(chat({{"n", 17}})), "n");
}

TEST(ChatRequest, StopStrings) {
  EXPECT_EQ(parse_chat_request(chat({{"stop", "END"}}), test_context()).stop, std::vector<std::string>{"END"});
  EXPECT_EQ(parse_chat_request(chat({{"stop", {"a", "b", "c", "d"}}}), test_context()).stop,
            (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(chat_error(chat({{"stop", {"a", "b", "c", "d", "e"}}})), "stop");
  EXPECT_EQ(chat_error(chat({{"stop", {"a", ""}}})), "stop[1]");
  EXPECT_EQ(chat_error(chat({{"stop", ""}})), "stop");
  EXPECT_EQ(chat_error(chat({{"stop", 5}})), "stop");
}

TEST(ChatRequest, LogprobsAndStreaming) {
  const ApiRequest request = parse_chat_request(
      chat({{"logprobs", true}, {"top_logprobs", 5}, {"stream", true}, {"stream_options", {{"include_usage", true}}}}),
      test_context());
  EXPECT_TRUE(request.generation.logprobs);
  EXPECT_EQ(request.generation.top_logprobs, 5);
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
  EXPECT_EQ(chat_error(chat({{"top_logprobs", 2}})), "top_logprobs");
  EXPECT_EQ(chat_error(chat({{"logprobs", true}, {"top_logprobs", 21}})), "top_logprobs");
  EXPECT_EQ(chat_error(chat({{"logprobs", 1}})), "logprobs");
  EXPECT_EQ(chat_error(chat({{"stream_options", {{"include_usage", true}}}})), "stream_options");
  EXPECT_EQ(chat_error(chat({{"stream", true}, {"stream_options", {{"include_usage", "yes"}}}})),
            "stream_options.include_usage");
  EXPECT_EQ(chat_error(chat({{"stream", "true"}})), "stream");
}

TEST(ChatRequest, ResponseFormat) {
  const auto format = [](const json& value) {
    return parse_chat_request(chat({{"response_format", value}}), test_context()).response_format;
  };
  EXPECT_EQ(format({{"type", "text"}}).kind, StructuredOutput::Kind::text);
  EXPECT_EQ(format({{"type", "json_object"}}).kind, StructuredOutput::Kind::json_object);
  const json schema = {{"type", "object"}, {"properties", {{"answer", {{"type", "string"}}}}}};
  const StructuredOutput s =
      format({{"type", "json_schema"}, {"json_schema", {{"name", "answer"}, {"schema", schema}, {"strict", true}}}});
  EXPECT_EQ(s.kind, StructuredOutput::Kind::json_schema);
  EXPECT_EQ(s.name, "answer");
  EXPECT_EQ(s.schema, schema);
  EXPECT_EQ(chat_error(chat({{"response_format", {{"type", "yaml"}}}})), "response_format.type");
  EXPECT_EQ(chat_error(chat({{"response_format", {{"type", "json_schema"}}}})), "response_format.json_schema");
  EXPECT_EQ(chat_error(chat({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "a"}}}}}})),
            "response_format.json_schema.schema");
  EXPECT_EQ(chat_error(chat({{"response_format", {{"type", "json_schema"},
                                                  {"json_schema", {{"name", "a b"}, {"schema", schema}}}}}})),
            "response_format.json_schema.name");
  EXPECT_EQ(chat_error(chat({{"response_format", "json"}})), "response_format");
}

// --- Responses -------------------------------------------------------------------------------

std::string responses_prompt(const json& body) { return prompt_of(parse_responses_request, body); }
std::string responses_error(const json& body, int status = 400) {
  return error_param(parse_responses_request, body, status);
}

json responses(json fields) {
  json body = {{"model", "gpt-oss-20b"}};
  body.update(fields);
  return body;
}

json flat_weather_tool() {
  return {{"type", "function"},
          {"name", "get_weather"},
          {"description", "Gets the weather."},
          {"parameters", kWeatherParameters},
          {"strict", true}};
}

TEST(ResponsesRequest, InputStringIsOneUserMessage) {
  const ApiRequest request = parse_responses_request(responses({{"input", "Hi"}}), test_context());
  EXPECT_EQ(request.endpoint, Endpoint::responses);
  EXPECT_EQ(harmony::render_text_for_completion(request.conversation), system_message() + kUserHi + kNext);
  EXPECT_EQ(request.input_items, json::parse(R"([{"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": "Hi"}]}])"));
  EXPECT_TRUE(request.store);
  EXPECT_FALSE(request.max_tokens_given);
  EXPECT_EQ(request.generation.sampler.temperature, 1.0f);
}

TEST(ResponsesRequest, InstructionsReasoningAndEveryItemType) {
  const json body = responses(json::parse(R"({
    "instructions": "Be brief.",
    "reasoning": {"effort": "high", "summary": "auto"},
    "input": [
      {"role": "developer", "content": "Use metric units."},
      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
      {"type": "reasoning", "id": "rs_1", "summary": [],
       "content": [{"type": "reasoning_text", "text": "Call the tool."}]},
      {"type": "function_call", "id": "fc_1", "call_id": "call_7", "name": "get_weather",
       "arguments": "{\"location\":\"Oslo\"}"},
      {"type": "function_call_output", "call_id": "call_7", "output": "-3"}
    ]})"));
  json with_tools = body;
  with_tools["tools"] = {flat_weather_tool()};
  const ApiRequest request = parse_responses_request(with_tools, test_context());
  EXPECT_EQ(harmony::render_text_for_completion(request.conversation),
            system_message("high", true) + weather_developer_message("Be brief.\n\nUse metric units.") +
                "<|start|>user<|message|>Weather in Oslo?<|end|>"
                "<|start|>assistant<|channel|>analysis<|message|>Call the tool.<|end|>"
                "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
                "{\"location\":\"Oslo\"}<|call|>"
                "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>-3<|end|>" +
                kNext);
  EXPECT_EQ(request.instructions, "Be brief.");
  EXPECT_EQ(request.input_items, with_tools["input"]);
  EXPECT_EQ(request.tool_call_names, (std::map<std::string, std::string>{{"call_7", "get_weather"}}));
}

TEST(ResponsesRequest, AnEarlierAnswerAndReasoningFromItsSummary) {
  const json body = responses(json::parse(R"({"reasoning_effort": "low", "input": [
    {"role": "user", "content": "2 + 2?"},
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Simple sum."}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "4", "annotations": []}]},
    {"role": "user", "content": "Times 3?"},
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Multiply with a tool."}]},
    {"type": "function_call", "call_id": "c", "name": "multiply", "arguments": "{\"a\":4,\"b\":3}"}
  ]})"));
  EXPECT_EQ(responses_prompt(body),
            system_message("low") +
                "<|start|>user<|message|>2 + 2?<|end|><|start|>assistant<|channel|>final<|message|>4<|end|>"
                "<|start|>user<|message|>Times 3?<|end|>"
                "<|start|>assistant<|channel|>analysis<|message|>Multiply with a tool.<|end|>"
                "<|start|>assistant to=functions.multiply<|channel|>commentary <|constrain|>json<|message|>"
                "{\"a\":4,\"b\":3}<|call|>" +
                kNext);
}

// The stored conversation as the server keeps it: the previous request's prompt and its output.
StoredResponse stored_weather_response() {
  harmony::SystemContent system;
  system.current_date = "2025-06-27";
  harmony::DeveloperContent developer;
  developer.instructions = "Old instructions.";
  developer.tools = {{"get_weather", "Gets the weather.", kWeatherParameters.dump()}};
  return {{harmony::Message::system(system), harmony::Message::developer(developer),
           harmony::Message::user("Weather in Oslo?"), harmony::Message::assistant("analysis", "Call the tool."),
           harmony::Message::tool_call("functions.get_weather", R"({"location":"Oslo"})")},
          {{"call_42", "get_weather"}}};
}

TEST(ResponsesRequest, PreviousResponseComesFirstWithoutItsInstructions) {
  ParseContext context = test_context();
  context.previous = [](const std::string& id) -> std::optional<StoredResponse> {
    if (id == "resp_1") return stored_weather_response();
    return std::nullopt;
  };
  const json body = responses(json::parse(R"({"previous_response_id": "resp_1", "instructions": "New instructions.",
    "input": [{"type": "function_call_output", "call_id": "call_42", "output": "{\"temperature\": -3}"}]})"));
  json with_tools = body;
  with_tools["tools"] = {flat_weather_tool()};
  const std::string previous_turns =
      "<|start|>user<|message|>Weather in Oslo?<|end|>"
      "<|start|>assistant<|channel|>analysis<|message|>Call the tool.<|end|>"
      "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>"
      "{\"location\":\"Oslo\"}<|call|>";
  const std::string result =
      "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"temperature\": -3}<|end|>";
  const ApiRequest request = parse_responses_request(with_tools, context);
  EXPECT_EQ(request.previous_response_id, "resp_1");
  EXPECT_EQ(harmony::render_text_for_completion(request.conversation),
            system_message("medium", true) + weather_developer_message("New instructions.") + previous_turns + result +
                kNext);
  EXPECT_EQ(request.tool_call_names, (std::map<std::string, std::string>{{"call_42", "get_weather"}}));

  // Neither the instructions nor the tools carry over from the previous response.
  json bare = body;
  bare.erase("instructions");
  EXPECT_EQ(harmony::render_text_for_completion(parse_responses_request(bare, context).conversation),
            system_message() + previous_turns + result + kNext);

  json unknown = body;
  unknown["previous_response_id"] = "resp_2";
  try {
    parse_responses_request(unknown, context);
    ADD_FAILURE() << "no error for an unknown previous response";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.param(), "previous_response_id");
  }
  // Without a store every previous response is unknown.
  EXPECT_EQ(responses_error(body, 404), "previous_response_id");
}

TEST(ResponsesRequest, OptionsAndTheirErrors) {
  const ApiRequest request = parse_responses_request(
      responses(json::parse(R"({"input": "Hi", "max_output_tokens": 300, "temperature": 0.2, "top_p": 0.5,
        "stream": true, "store": false, "metadata": {"user": "u1", "topic": "weather"},
        "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}}})")),
      test_context());
  EXPECT_TRUE(request.max_tokens_given);
  EXPECT_EQ(request.generation.max_tokens, 300);
  EXPECT_EQ(request.generation.sampler.temperature, 0.2f);
  EXPECT_EQ(request.generation.sampler.top_p, 0.5f);
  EXPECT_TRUE(request.stream);
  EXPECT_FALSE(request.store);
  EXPECT_EQ(request.metadata, json::parse(R"({"user": "u1", "topic": "weather"})"));
  EXPECT_EQ(request.tool_choice.kind, ToolChoice::Kind::named);
  EXPECT_EQ(request.tool_choice.name, "f");
  EXPECT_EQ(request.response_format.kind, StructuredOutput::Kind::json_schema);
  EXPECT_EQ(request.response_format.name, "answer");
  EXPECT_EQ(request.response_format.schema, json::parse(R"({"type": "object"})"));

  const auto error = [](const char* fields) { return responses_error(responses(json::parse(fields))); };
  EXPECT_EQ(error(R"({})"), "input");
  EXPECT_EQ(error(R"({"input": []})"), "input");
  EXPECT_EQ(error(R"({"input": 5})"), "input");
  EXPECT_EQ(error(R"({"input": "Hi", "max_output_tokens": 0})"), "max_output_tokens");
  EXPECT_EQ(error(R"({"input": "Hi", "tools": [{"type": "web_search"}]})"), "tools[0].type");
  EXPECT_EQ(error(R"({"input": "Hi", "tools": [{"type": "function", "name": "f"}],
                      "tool_choice": {"type": "function", "name": "g"}})"),
            "tool_choice");
  EXPECT_EQ(error(R"({"input": "Hi", "text": {"format": {"type": "json_schema", "name": "a"}}})"), "text.format.schema");
  EXPECT_EQ(error(R"({"input": "Hi", "text": {"format": {"type": "xml"}}})"), "text.format.type");
  EXPECT_EQ(error(R"({"input": "Hi", "reasoning": {"effort": "huge"}})"), "reasoning.effort");
  EXPECT_EQ(error(R"({"input": "Hi", "store": "no"})"), "store");
  EXPECT_EQ(error(R"({"input": "Hi", "metadata": {"a": 1}})"), "metadata.a");
  EXPECT_EQ(error(R"({"input": "Hi", "metadata": ["a"]})"), "metadata");
  EXPECT_EQ(error(R"({"input": "Hi", "instructions": ["a"]})"), "instructions");
  EXPECT_EQ(error(R"({"input": "Hi", "previous_response_id": 3})"), "previous_response_id");
  json many = json::object();
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(responses_error(responses({{"input", "Hi"}, {"metadata", many}})), "metadata");
}

TEST(ResponsesRequest, RefusesMalformedItems) {
  const auto error = [](const char* input) { return responses_error(responses({{"input", json::parse(input)}})); };
  EXPECT_EQ(error(R"([{"type": "web_search_call", "id": "ws_1"}])"), "input[0].type");
  EXPECT_EQ(error(R"([{"role": "tool", "content": "x"}])"), "input[0].role");
  EXPECT_EQ(error(R"([{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}])"),
            "input[0].content[0].type");
  EXPECT_EQ(error(R"([{"role": "user", "content": "Hi"},
                      {"type": "function_call_output", "call_id": "nope", "output": "x"}])"),
            "input[1].call_id");
  EXPECT_EQ(error(R"([{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}])"),
            "input[0].arguments");
  EXPECT_EQ(error(R"([{"type": "function_call", "call_id": "c", "name": "f x", "arguments": "{}"}])"), "input[0].name");
  EXPECT_EQ(error(R"([{"type": "function_call", "name": "f", "arguments": "{}"}])"), "input[0].call_id");
  EXPECT_EQ(error(R"([{"type": "reasoning", "content": [{"type": "text", "text": "x"}]}])"),
            "input[0].content[0].type");
  EXPECT_EQ(error(R"([3])"), "input[0]");
}

// --- Completions -----------------------------------------------------------------------------

ApiRequest completion(json fields) {
  json body = {{"model", "gpt-oss-20b"}};
  body.update(fields);
  return parse_completions_request(body, test_context());
}

std::string completions_error(json fields) {
  json body = {{"model", "gpt-oss-20b"}};
  body.update(fields);
  return error_param(parse_completions_request, body);
}

TEST(CompletionsRequest, PromptForms) {
  const ApiRequest text = completion({{"prompt", "<|start|>user<|message|>Hi"}});
  EXPECT_EQ(text.endpoint, Endpoint::completions);
  EXPECT_EQ(text.prompt_text, "<|start|>user<|message|>Hi");
  EXPECT_TRUE(text.prompt_tokens.empty());
  EXPECT_TRUE(text.conversation.empty());
  EXPECT_EQ(completion({{"prompt", {"Once upon a time"}}}).prompt_text, "Once upon a time");
  const ApiRequest tokens = completion({{"prompt", {200006, 1428, 0}}});
  EXPECT_EQ(tokens.prompt_tokens, (std::vector<int32_t>{200006, 1428, 0}));
  EXPECT_TRUE(tokens.prompt_text.empty());

  EXPECT_EQ(completions_error(json::object()), "prompt");
  EXPECT_EQ(completions_error({{"prompt", ""}}), "prompt");
  EXPECT_EQ(completions_error({{"prompt", json::array()}}), "prompt");
  EXPECT_EQ(completions_error({{"prompt", {"a", "b"}}}), "prompt");
  EXPECT_EQ(completions_error({{"prompt", {1, -2}}}), "prompt[1]");
  EXPECT_EQ(completions_error({{"prompt", {1, 2.5}}}), "prompt[1]");
  EXPECT_EQ(completions_error({{"prompt", {1, "a"}}}), "prompt[1]");
  EXPECT_EQ(completions_error({{"prompt", {{1, 2}, {3}}}}), "prompt[0]");
  EXPECT_EQ(completions_error({{"prompt", {1, 4294967296}}}), "prompt[1]");
  EXPECT_EQ(completions_error({{"prompt", 7}}), "prompt");
}

TEST(CompletionsRequest, OptionsAndDefaults) {
  const ApiRequest defaults = completion({{"prompt", "x"}});
  EXPECT_TRUE(defaults.max_tokens_given);
  EXPECT_EQ(defaults.generation.max_tokens, 16);
  EXPECT_FALSE(defaults.generation.logprobs);
  EXPECT_FALSE(defaults.echo);
  EXPECT_EQ(defaults.generation.sampler.temperature, 1.0f);

  const ApiRequest request = completion(json::parse(R"({"prompt": "x", "max_tokens": 64, "logprobs": 3, "echo": true,
    "n": 2, "stop": ["\n\n"], "temperature": 0.7, "seed": 5, "stream": true, "stream_options": {"include_usage": true}})"));
  EXPECT_EQ(request.generation.max_tokens, 64);
  EXPECT_TRUE(request.generation.logprobs);
  EXPECT_EQ(request.generation.top_logprobs, 3);
  EXPECT_TRUE(request.echo);
  EXPECT_EQ(request.n, 2);
  EXPECT_EQ(request.stop, std::vector<std::string>{"\n\n"});
  EXPECT_EQ(request.generation.sampler.temperature, 0.7f);
  EXPECT_EQ(request.generation.sampler.seed, 5u);
  EXPECT_TRUE(request.include_usage);
  const ApiRequest sampled_only = completion({{"prompt", "x"}, {"logprobs", 0}});
  EXPECT_TRUE(sampled_only.generation.logprobs);
  EXPECT_EQ(sampled_only.generation.top_logprobs, 0);

  EXPECT_EQ(completions_error({{"prompt", "x"}, {"suffix", "end"}}), "suffix");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"logprobs", 6}}), "logprobs");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"logprobs", true}}), "logprobs");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"max_tokens", 0}}), "max_tokens");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"echo", 1}}), "echo");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"n", 20}}), "n");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"top_p", -1}}), "top_p");
  EXPECT_EQ(completions_error({{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}}), "stream_options");
  EXPECT_EQ(error_param(parse_completions_request, json::parse(R"({"prompt": "x"})")), "model");
}

}  // namespace
}  // namespace gptoss::server
