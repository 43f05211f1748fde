// /v1/responses: instructions and input items (after a stored response's conversation) → a
// harmony conversation, and the generation options.
#include <limits>

#include "io/json_limits.h"
#include "server/api_request.h"
#include "server/conversation_builder.h"
#include "server/json_fields.h"
#include "server/request_fields.h"
#include "server/tool_fields.h"

namespace gptoss::server {
namespace {

// Message contents are input_text (what the client wrote) or output_text (an earlier answer).
const std::initializer_list<std::string_view> kMessageText = {"input_text", "output_text"};

void add_message_item(const Field& item, ConversationBuilder& builder) {
  const std::string role = item["role"].one_of({"user", "system", "developer", "assistant"});
  std::string text = item["content"].text(kMessageText);
  if (role == "user") builder.add_user(std::move(text));
  else if (role == "assistant") builder.add_assistant(std::move(text));
  else builder.add_instructions(text);
}

// The chain of thought is `content`; a client that kept only the `summary` gets that back as
// the model's reasoning, which is closer than none while its tool calls are pending.
void add_reasoning_item(const Field& item, ConversationBuilder& builder) {
  const Field content = item["content"];
  std::string text = content.present() ? content.text({"reasoning_text"}) : "";
  if (const Field summary = item["summary"]; text.empty() && summary.present()) text = summary.text({"summary_text"});
  builder.add_reasoning(std::move(text));
}

void add_input_item(const Field& item, ConversationBuilder& builder) {
  const Field type = item["type"];
  const std::string kind = type.present() ? type.string() : "message";  // OpenAI's easy input message
  if (kind == "message") {
    add_message_item(item, builder);
  } else if (kind == "reasoning") {
    add_reasoning_item(item, builder);
  } else if (kind == "function_call") {
    builder.add_tool_call(item["call_id"].non_empty_string(), item["name"].identifier(), item["arguments"].string());
  } else if (kind == "function_call_output") {
    const Field id = item["call_id"];
    if (!builder.add_tool_result(id.string(), item["output"].text(kMessageText)))
      throw id.invalid("no earlier function_call, in the input or the previous response, has this call_id");
  } else {
    throw type.invalid("expected 'message', 'reasoning', 'function_call' or 'function_call_output', but got '" +
                       text_excerpt(kind) + "'");
  }
}

// `input`: one user message as a string, or an array of items. Returns the items as given, the
// string as the message item it stands for.
nlohmann::json add_input(const Field& input, ConversationBuilder& builder) {
  if (!input.present()) return nlohmann::json::array();
  if (input.json().is_string()) {
    builder.add_user(input.string());
    return nlohmann::json::array(
        {{{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", input.string()}}}}}});
  }
  const size_t count = input.array();
  for (size_t i = 0; i < count; ++i) add_input_item(input[i], builder);
  return input.json();
}

// `metadata`: at most 16 string values, keys of at most 64 characters, values of at most 512.
nlohmann::json read_metadata(const Field& metadata) {
  const auto& object = metadata.object();
  if (object.size() > 16) throw metadata.invalid("expected at most 16 keys, but got " + std::to_string(object.size()));
  for (const auto& [key, value] : object.items()) {
    const Field entry = metadata[key];
    if (key.size() > 64) throw entry.invalid("keys have at most 64 characters");
    if (entry.string().size() > 512) throw entry.invalid("values have at most 512 characters");
  }
  return object;
}

}  // namespace

ApiRequest parse_responses_request(const nlohmann::json& json, const ParseContext& context) {
  const Field body = Field::body(json);
  ApiRequest request;
  request.endpoint = Endpoint::responses;
  request.model = body["model"].string();

  ConversationBuilder builder;
  if (const Field previous = body["previous_response_id"]; previous.present()) {
    request.previous_response_id = previous.non_empty_string();
    const auto stored = context.previous ? context.previous(request.previous_response_id) : std::nullopt;
    if (!stored)
      throw ApiError(404, "No stored response has the previous_response_id '" +
                              text_excerpt(request.previous_response_id) + "'.",
                     previous.path());
    builder.continue_from(*stored);
  }
  if (const Field instructions = body["instructions"]; instructions.present()) {
    request.instructions = instructions.string();
    builder.add_instructions(request.instructions);
  }
  const auto tools = read_function_tools(body["tools"], request.endpoint);
  request.tool_choice = read_tool_choice(body["tool_choice"], request.endpoint, tools);
  builder.set_tools(tools);
  if (const Field parallel = body["parallel_tool_calls"]; parallel.present())
    request.parallel_tool_calls = parallel.boolean();
  const Field input = body["input"];
  request.input_items = add_input(input, builder);
  if (!builder.has_turns()) throw bad_request("Missing required parameter: 'input'.", input.path());
  request.conversation = builder.build(read_reasoning_effort(body), context.current_date);
  request.tool_call_names = builder.tool_call_names();

  request.generation.sampler = read_sampling(body);
  if (const Field max = body["max_output_tokens"]; max.present()) {
    request.generation.max_tokens = static_cast<int>(max.integer(1, std::numeric_limits<int>::max()));
    request.max_tokens_given = true;
  }
  if (const Field stream = body["stream"]; stream.present()) request.stream = stream.boolean();
  if (const Field store = body["store"]; store.present()) request.store = store.boolean();
  if (const Field metadata = body["metadata"]; metadata.present()) request.metadata = read_metadata(metadata);
  request.response_format = read_structured_output(body["text"]["format"], request.endpoint);
  return request;
}

}  // namespace gptoss::server
