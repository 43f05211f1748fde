// What a client asked for, whichever endpoint it came through (/v1/chat/completions,
// /v1/responses, /v1/completions): the prompt as a harmony conversation (or raw text), the
// generation options and the shape of the answer. The parsers validate every field and throw
// ApiError (400 naming the field) for anything out of range or of the wrong type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gptoss/generation_options.h"
#include "gptoss/harmony.h"

namespace gptoss::server {

enum class Endpoint { chat_completions, responses, completions };

// response_format (chat) / text.format (responses).
struct StructuredOutput {
  enum class Kind { text, json_object, json_schema };
  Kind kind = Kind::text;
  std::string name;        // json_schema's name
  nlohmann::json schema;   // json_schema's schema
};

struct ToolChoice {
  enum class Kind { automatic, none, required, named };
  Kind kind = Kind::automatic;
  std::string name;  // the function's name when named
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string model;  // as the client named it (checked against the served model by the server)

  // chat_completions and responses: the conversation rendered with
  // harmony::render_for_completion. Its first message is the system message (reasoning
  // effort, today's date); a developer message carries instructions and function tools.
  harmony::Conversation conversation;
  // completions: the prompt as text (tokenized with special tokens allowed) or as token ids.
  std::string prompt_text;
  std::vector<int32_t> prompt_tokens;

  // max_tokens, sampler (temperature, top_p, top_k, min_p, seed, penalties, logit_bias),
  // logprobs and top_logprobs. stop_tokens are left to the server (harmony's, or the model's
  // end-of-text ids for completions).
  GenerationOptions generation;
  bool max_tokens_given = false;  // false: generate until the context is full
  std::vector<std::string> stop;  // stop strings, matched in the answer's text (final channel)
  int n = 1;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool echo = false;              // completions: the prompt precedes the answer's text
  bool ignore_eos = false;        // completions: the end-of-text tokens do not end the answer

  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
  StructuredOutput response_format;

  // responses
  std::string previous_response_id;  // resolved by the parser through ParseContext::previous
  bool store = true;
  nlohmann::json metadata;           // echoed back
  std::string instructions;          // echoed back (already in the developer message)
  // The input items as given, for the stored response's history.
  nlohmann::json input_items = nlohmann::json::array();

  // chat_completions and responses: call id → function name of every tool call in
  // `conversation` (a previous response's included), which harmony messages do not carry. The
  // server stores it with the answer's own calls, as StoredResponse::tool_call_names, so that a
  // later function_call_output can name the function its call_id belongs to.
  std::map<std::string, std::string> tool_call_names;
};

// A response kept for previous_response_id (responses endpoint).
struct StoredResponse {
  harmony::Conversation conversation;  // its prompt plus its output messages
  std::map<std::string, std::string> tool_call_names;  // call id → function name, of every call in it
};

struct ParseContext {
  // The stored response of that id; nothing when unknown (the parser then throws 404 naming
  // previous_response_id).
  std::function<std::optional<StoredResponse>(const std::string& id)> previous;
  std::string current_date;  // "YYYY-MM-DD" for the system message; empty: today
};

ApiRequest parse_chat_request(const nlohmann::json& body, const ParseContext& context);
ApiRequest parse_responses_request(const nlohmann::json& body, const ParseContext& context);
ApiRequest parse_completions_request(const nlohmann::json& body, const ParseContext& context);

}  // namespace gptoss::server
