// What /v1/responses answers: a `response` object, or its stream of named server-sent events.
// The output items follow the answer's order: a reasoning item for analysis text, a message for
// what the user is meant to read (final answers and preambles), a function_call per tool call;
// consecutive text of one kind is one item. Item ids derive from the response id, so a stored
// response and the stream that built it name its items alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/output_assembler.h"
#include "server/usage.h"

namespace gptoss::server {

// The request's settings a response reports back: instructions, metadata, previous_response_id,
// temperature, top_p, tools, tool_choice, text {format}, reasoning {effort, summary},
// parallel_tool_calls, max_output_tokens, store — as the (validated) request body gave them,
// OpenAI's defaults for those it left out.
nlohmann::json response_settings(const nlohmann::json& request_body);

struct ResponseInfo {
  std::string id;           // "resp_…" (random_id)
  int64_t created_at = 0;   // Unix seconds
  std::string model;        // as the response reports it
  nlohmann::json settings = response_settings(nlohmann::json::object());
};

// The `response` object of a finished generation: status "completed"; "incomplete" with
// incomplete_details {reason: "max_output_tokens"} when it ran out of tokens (finish_reason
// "length"); "cancelled" when it was cancelled (no finish_reason).
nlohmann::json response_object(const ResponseInfo& info, const AssembledOutput& output, const Usage& usage);

// The events of a streamed response, as SSE text for the server to write, each with its
// sequence_number: response.created and response.in_progress, then per output item
// output_item.added, its parts and deltas, output_item.done, and last response.completed (or
// response.incomplete, for any other status) carrying response_object(). Reasoning items
// announce their reasoning_text part with content_part.added/done, as messages do their
// output_text part: the SDK's accumulator adds reasoning deltas only to a part it was told of.
class ResponseStreamWriter {
 public:
  explicit ResponseStreamWriter(ResponseInfo info);

  // response.created, response.in_progress.
  std::string start();
  // The events' text as deltas of the output item it belongs to, opening and closing items.
  std::string events(const std::vector<OutputEvent>& events);
  // Closes the open item; response.completed or response.incomplete.
  std::string finish(const AssembledOutput& output, const Usage& usage);

 private:
  struct OpenItem {
    OutputEvent::Kind kind;  // reasoning, content or tool_call_start
    int output_index = 0;
    std::string id;
    std::string text;  // reasoning, message text or arguments so far
    std::vector<TokenLogprob> logprobs;
    std::string call_id, name;
  };
  std::string emit(const char* type, nlohmann::json event);
  std::string open_item(const OutputEvent& event);
  std::string close_item();

  ResponseInfo info_;
  int sequence_number_ = 0;
  int output_items_ = 0;  // items opened so far
  std::optional<OpenItem> open_;
};

}  // namespace gptoss::server
