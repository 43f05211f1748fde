// /v1/chat/completions: messages → a harmony conversation, and the generation options.
#include <limits>

#include "server/api_request.h"
#include "server/conversation_builder.h"
#include "server/json_fields.h"
#include "server/request_fields.h"
#include "server/tool_fields.h"

namespace gptoss::server {
namespace {

// reasoning_content (or `reasoning`, its name elsewhere) → analysis; content → the final answer
// (or the preamble of tool calls); tool_calls → harmony calls on commentary.
void add_assistant_message(const Field& message, ConversationBuilder& builder) {
  Field reasoning = message["reasoning_content"];
  if (!reasoning.present()) reasoning = message["reasoning"];
  if (reasoning.present()) builder.add_reasoning(reasoning.string());

  const Field calls = message["tool_calls"];
  const size_t call_count = calls.present() ? calls.array() : 0;
  const Field content = message["content"];
  if (content.present() || call_count == 0) {
    std::string text = content.text({"text"});  // required without tool calls
    if (!text.empty() || call_count == 0) builder.add_assistant(std::move(text));
  }
  for (size_t i = 0; i < call_count; ++i) {
    const Field call = calls[i];
    if (const Field type = call["type"]; type.present()) type.one_of({"function"});
    const Field function = call["function"];
    function.object();
    builder.add_tool_call(call["id"].non_empty_string(), function["name"].identifier(),
                          function["arguments"].string());
  }
}

void add_message(const Field& message, ConversationBuilder& builder) {
  const std::string role = message["role"].one_of({"system", "developer", "user", "assistant", "tool"});
  if (role == "system" || role == "developer") {
    builder.add_instructions(message["content"].text({"text"}));
  } else if (role == "user") {
    builder.add_user(message["content"].text({"text"}));
  } else if (role == "assistant") {
    add_assistant_message(message, builder);
  } else {
    const Field id = message["tool_call_id"];
    if (!builder.add_tool_result(id.string(), message["content"].text({"text"})))
      throw id.invalid("no earlier assistant message has a tool call of this id");
  }
}

}  // namespace

ApiRequest parse_chat_request(const nlohmann::json& json, const ParseContext& context) {
  const Field body = Field::body(json);
  ApiRequest request;
  request.endpoint = Endpoint::chat_completions;
  request.model = body["model"].string();

  ConversationBuilder builder;
  const auto tools = read_function_tools(body["tools"], request.endpoint);
  request.tool_choice = read_tool_choice(body["tool_choice"], request.endpoint, tools);
  builder.set_tools(tools);
  if (const Field parallel = body["parallel_tool_calls"]; parallel.present())
    request.parallel_tool_calls = parallel.boolean();
  const Field messages = body["messages"];
  const size_t count = messages.array();
  if (count == 0) throw messages.invalid("expected at least one message");
  for (size_t i = 0; i < count; ++i) add_message(messages[i], builder);
  request.conversation = builder.build(read_reasoning_effort(body), context.current_date);
  request.tool_call_names = builder.tool_call_names();

  request.generation.sampler = read_sampling(body);
  // max_completion_tokens replaced max_tokens in OpenAI's API; the newer name wins.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const Field max = body[name]; max.present()) {
      request.generation.max_tokens = static_cast<int>(max.integer(1, std::numeric_limits<int>::max()));
      request.max_tokens_given = true;
    }
  }
  if (const Field logprobs = body["logprobs"]; logprobs.present()) request.generation.logprobs = logprobs.boolean();
  if (const Field top = body["top_logprobs"]; top.present()) {
    request.generation.top_logprobs = static_cast<int>(top.integer(0, 20));
    if (!request.generation.logprobs) throw top.invalid("only allowed when 'logprobs' is true");
  }
  if (const Field n = body["n"]; n.present()) request.n = static_cast<int>(n.integer(1, 16));
  request.stop = read_stop(body["stop"]);
  read_stream(body, request);
  request.response_format = read_structured_output(body["response_format"], request.endpoint);
  return request;
}

}  // namespace gptoss::server
