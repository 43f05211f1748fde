#include "server/responses_response.h"

#include "server/json_output.h"
#include "server/sse.h"

namespace gptoss::server {

namespace {

using Kind = OutputEvent::Kind;

// body[key] unless absent or null.
nlohmann::json given_or(const nlohmann::json& body, const char* key, nlohmann::json fallback) {
  const auto it = body.find(key);
  return it == body.end() || it->is_null() ? std::move(fallback) : *it;
}

// The item ids of a response share its id's random part, and differ by kind and position.
std::string item_id(const ResponseInfo& info, Kind kind, int output_index) {
  const char* prefix = kind == Kind::reasoning ? "rs_" : kind == Kind::content ? "msg_" : "fc_";
  std::string_view random = info.id;
  if (random.starts_with("resp_")) random.remove_prefix(5);
  return prefix + std::string(random) + "_" + std::to_string(output_index);
}

// An event about part `content_index` 0 of item `id`: {item_id, output_index, content_index} and `fields`.
nlohmann::json part_event(const std::string& id, int output_index, nlohmann::json fields) {
  fields["item_id"] = id;
  fields["output_index"] = output_index;
  fields["content_index"] = 0;
  return fields;
}

nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (const TokenLogprob& logprob : logprobs) out.push_back(token_logprob_json(logprob));
  return out;
}

nlohmann::json reasoning_part(const std::string& text) { return {{"type", "reasoning_text"}, {"text", text}}; }

nlohmann::json output_text_part(const std::string& text, const std::vector<TokenLogprob>& logprobs) {
  return {{"type", "output_text"},
          {"text", text},
          {"annotations", nlohmann::json::array()},
          {"logprobs", logprobs_json(logprobs)}};
}

nlohmann::json reasoning_item(const std::string& id, nlohmann::json content) {
  return {{"type", "reasoning"}, {"id", id}, {"summary", nlohmann::json::array()}, {"content", std::move(content)}};
}

nlohmann::json message_item(const std::string& id, const char* status, nlohmann::json content) {
  return {{"type", "message"}, {"id", id}, {"role", "assistant"}, {"status", status}, {"content", std::move(content)}};
}

nlohmann::json function_call_item(const std::string& id, const char* status, const std::string& call_id,
                                  const std::string& name, const std::string& arguments) {
  return {{"type", "function_call"}, {"id", id},         {"call_id", call_id},
          {"name", name},            {"arguments", arguments}, {"status", status}};
}

// One output item: consecutive text of one kind, or one tool call.
struct Item {
  Kind kind;
  std::string text;
  const ToolCall* call = nullptr;
  std::vector<TokenLogprob> logprobs;
};

// The messages of the answer as output items, grouped as the stream writer groups the events that
// made them: messages without text make no item, and text follows text of its kind in one item.
std::vector<Item> output_items(const AssembledOutput& output) {
  std::vector<Item> items;
  size_t tool_calls = 0;
  for (const harmony::Message& message : output.messages) {
    const Kind kind = message_kind(message);
    if (kind == Kind::tool_call_start) {
      if (tool_calls < output.tool_calls.size()) items.push_back({kind, {}, &output.tool_calls[tool_calls++], {}});
    } else if (!message.text().empty()) {
      if (items.empty() || items.back().kind != kind) items.push_back({kind, {}, nullptr, {}});
      items.back().text += message.text();
    }
  }
  // The content tokens' logprobs, in order, to the message items whose text they make up.
  size_t next = 0;
  Item* last_message = nullptr;
  for (Item& item : items) {
    if (item.kind != Kind::content) continue;
    last_message = &item;
    size_t bytes = 0;
    while (next < output.logprobs.size() && bytes < item.text.size()) {
      bytes += output.logprobs[next].token.size();
      item.logprobs.push_back(output.logprobs[next++]);
    }
  }
  if (last_message)
    last_message->logprobs.insert(last_message->logprobs.end(), output.logprobs.begin() + next, output.logprobs.end());
  return items;
}

nlohmann::json usage_json(const Usage& usage) {
  return {{"input_tokens", usage.prompt_tokens},
          {"input_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
          {"output_tokens", usage.completion_tokens},
          {"output_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}},
          {"total_tokens", usage.total_tokens()}};
}

// The response's fields but its output and usage, with `status`.
nlohmann::json response_base(const ResponseInfo& info, const char* status) {
  nlohmann::json out = {{"id", info.id},
                        {"object", "response"},
                        {"created_at", info.created_at},
                        {"status", status},
                        {"error", nullptr},
                        {"incomplete_details", nullptr},
                        {"model", info.model},
                        {"output", nlohmann::json::array()},
                        {"usage", nullptr}};
  out.update(info.settings);
  return out;
}

}  // namespace

nlohmann::json response_settings(const nlohmann::json& body) {
  const nlohmann::json text = given_or(body, "text", nlohmann::json::object());
  const nlohmann::json reasoning = given_or(body, "reasoning", nlohmann::json::object());
  return {{"instructions", given_or(body, "instructions", nullptr)},
          {"metadata", given_or(body, "metadata", nlohmann::json::object())},
          {"previous_response_id", given_or(body, "previous_response_id", nullptr)},
          {"temperature", given_or(body, "temperature", 1.0)},
          {"top_p", given_or(body, "top_p", 1.0)},
          {"tools", given_or(body, "tools", nlohmann::json::array())},
          {"tool_choice", given_or(body, "tool_choice", "auto")},
          {"text", {{"format", given_or(text, "format", {{"type", "text"}})}}},
          // gpt-oss reasons at medium effort unless told otherwise; it writes no summaries.
          {"reasoning", {{"effort", given_or(reasoning, "effort", "medium")}, {"summary", given_or(reasoning, "summary", nullptr)}}},
          {"parallel_tool_calls", given_or(body, "parallel_tool_calls", true)},
          {"max_output_tokens", given_or(body, "max_output_tokens", nullptr)},
          {"store", given_or(body, "store", true)}};
}

nlohmann::json response_object(const ResponseInfo& info, const AssembledOutput& output, const Usage& usage) {
  const char* status = output.finish_reason == "length" ? "incomplete"
                       : output.finish_reason.empty()   ? "cancelled"
                                                        : "completed";
  nlohmann::json out = response_base(info, status);
  if (output.finish_reason == "length") out["incomplete_details"] = {{"reason", "max_output_tokens"}};
  const std::vector<Item> items = output_items(output);
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    const std::string id = item_id(info, item.kind, static_cast<int>(i));
    switch (item.kind) {
      case Kind::reasoning:
        out["output"].push_back(reasoning_item(id, nlohmann::json::array({reasoning_part(item.text)})));
        break;
      case Kind::content:
        out["output"].push_back(
            message_item(id, "completed", nlohmann::json::array({output_text_part(item.text, item.logprobs)})));
        break;
      default:
        out["output"].push_back(
            function_call_item(id, "completed", item.call->id, item.call->name, item.call->arguments));
        break;
    }
  }
  out["usage"] = usage_json(usage);
  return out;
}

ResponseStreamWriter::ResponseStreamWriter(ResponseInfo info) : info_(std::move(info)) {}

std::string ResponseStreamWriter::emit(const char* type, nlohmann::json event) {
  event["type"] = type;
  event["sequence_number"] = sequence_number_++;
  return sse::event(type, json_text(event));
}

std::string ResponseStreamWriter::start() {
  std::string out = emit("response.created", {{"response", response_base(info_, "in_progress")}});
  return out + emit("response.in_progress", {{"response", response_base(info_, "in_progress")}});
}

std::string ResponseStreamWriter::open_item(const OutputEvent& event) {
  std::string out = close_item();
  OpenItem item;
  item.kind = event.kind == Kind::tool_call_arguments ? Kind::tool_call_start : event.kind;
  item.output_index = output_items_++;
  item.id = item_id(info_, item.kind, item.output_index);
  item.call_id = event.call_id;
  item.name = event.name;
  switch (item.kind) {
    case Kind::reasoning:
      out += emit("response.output_item.added",
                  {{"output_index", item.output_index}, {"item", reasoning_item(item.id, nlohmann::json::array())}});
      out += emit("response.content_part.added", part_event(item.id, item.output_index, {{"part", reasoning_part("")}}));
      break;
    case Kind::content:
      out += emit("response.output_item.added",
                  {{"output_index", item.output_index},
                   {"item", message_item(item.id, "in_progress", nlohmann::json::array())}});
      out += emit("response.content_part.added", part_event(item.id, item.output_index, {{"part", output_text_part("", {})}}));
      break;
    default:
      out += emit("response.output_item.added",
                  {{"output_index", item.output_index},
                   {"item", function_call_item(item.id, "in_progress", item.call_id, item.name, "")}});
      break;
  }
  open_ = std::move(item);
  return out;
}

std::string ResponseStreamWriter::close_item() {
  if (!open_) return {};
  const OpenItem item = std::move(*open_);
  open_.reset();
  std::string out;
  nlohmann::json done;
  switch (item.kind) {
    case Kind::reasoning:
      out += emit("response.reasoning_text.done", part_event(item.id, item.output_index, {{"text", item.text}}));
      out += emit("response.content_part.done", part_event(item.id, item.output_index, {{"part", reasoning_part(item.text)}}));
      done = reasoning_item(item.id, nlohmann::json::array({reasoning_part(item.text)}));
      break;
    case Kind::content: {
      const nlohmann::json part = output_text_part(item.text, item.logprobs);
      out += emit("response.output_text.done",
                  part_event(item.id, item.output_index, {{"text", item.text}, {"logprobs", part["logprobs"]}}));
      out += emit("response.content_part.done", part_event(item.id, item.output_index, {{"part", part}}));
      done = message_item(item.id, "completed", nlohmann::json::array({part}));
      break;
    }
    default:
      out += emit("response.function_call_arguments.done", {{"item_id", item.id},
                                                            {"output_index", item.output_index},
                                                            {"name", item.name},
                                                            {"arguments", item.text}});
      done = function_call_item(item.id, "completed", item.call_id, item.name, item.text);
      break;
  }
  return out + emit("response.output_item.done", {{"output_index", item.output_index}, {"item", std::move(done)}});
}

std::string ResponseStreamWriter::events(const std::vector<OutputEvent>& events) {
  std::string out;
  for (const OutputEvent& event : events) {
    if (event.kind == Kind::tool_call_start) {
      out += open_item(event);
      continue;
    }
    const Kind item_kind = event.kind == Kind::tool_call_arguments ? Kind::tool_call_start : event.kind;
    if (event.text.empty()) {
      // Logprobs of tokens that brought no text join the message they belong to.
      if (open_ && open_->kind == item_kind) open_->logprobs.insert(open_->logprobs.end(), event.logprobs.begin(), event.logprobs.end());
      continue;
    }
    if (!open_ || open_->kind != item_kind) out += open_item(event);
    OpenItem& item = *open_;
    item.text += event.text;
    switch (event.kind) {
      case Kind::reasoning:
        out += emit("response.reasoning_text.delta", part_event(item.id, item.output_index, {{"delta", event.text}}));
        break;
      case Kind::content:
        item.logprobs.insert(item.logprobs.end(), event.logprobs.begin(), event.logprobs.end());
        out += emit("response.output_text.delta",
                    part_event(item.id, item.output_index,
                               {{"delta", event.text}, {"logprobs", logprobs_json(event.logprobs)}}));
        break;
      default:
        out += emit("response.function_call_arguments.delta",
                    {{"item_id", item.id}, {"output_index", item.output_index}, {"delta", event.text}});
        break;
    }
  }
  return out;
}

std::string ResponseStreamWriter::finish(const AssembledOutput& output, const Usage& usage) {
  std::string out = close_item();
  nlohmann::json response = response_object(info_, output, usage);
  const char* type = response["status"] == "completed" ? "response.completed" : "response.incomplete";
  return out + emit(type, {{"response", std::move(response)}});
}

}  // namespace gptoss::server
