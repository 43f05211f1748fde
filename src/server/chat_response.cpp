#include "server/chat_response.h"

#include "server/json_output.h"
#include "server/sse.h"

namespace gptoss::server {

namespace {

nlohmann::json finish_reason_json(const std::string& reason) {
  return reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason);
}

// choices[].logprobs: {content: [...], refusal: null}.
nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
  nlohmann::json content = nlohmann::json::array();
  for (const TokenLogprob& logprob : logprobs) content.push_back(token_logprob_json(logprob));
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

nlohmann::json tool_call_json(const ToolCall& call) {
  return {{"id", call.id},
          {"type", "function"},
          {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

nlohmann::json message_json(const AssembledOutput& output) {
  nlohmann::json message = {{"role", "assistant"}};
  // A message that only calls tools has no content (null, as OpenAI sends it).
  message["content"] = output.content.empty() && !output.tool_calls.empty() ? nlohmann::json(nullptr)
                                                                             : nlohmann::json(output.content);
  message["refusal"] = nullptr;
  if (!output.reasoning.empty()) message["reasoning_content"] = output.reasoning;
  if (!output.tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (const ToolCall& call : output.tool_calls) calls.push_back(tool_call_json(call));
    message["tool_calls"] = std::move(calls);
  }
  return message;
}

}  // namespace

nlohmann::json chat_completion(const ChatResponseInfo& info, const std::vector<AssembledOutput>& choices,
                               const Usage& usage) {
  nlohmann::json out_choices = nlohmann::json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const AssembledOutput& output = choices[i];
    out_choices.push_back({{"index", i},
                           {"message", message_json(output)},
                           {"logprobs", info.logprobs ? logprobs_json(output.logprobs) : nlohmann::json(nullptr)},
                           {"finish_reason", finish_reason_json(output.finish_reason)}});
  }
  return {{"id", info.id},
          {"object", "chat.completion"},
          {"created", info.created},
          {"model", info.model},
          {"choices", std::move(out_choices)},
          {"usage", completion_usage_json(usage)},
          {"system_fingerprint", info.system_fingerprint}};
}

ChatStreamWriter::ChatStreamWriter(ChatResponseInfo info, int choices, bool include_usage)
    : info_(std::move(info)), include_usage_(include_usage), started_(static_cast<size_t>(choices), false) {}

nlohmann::json ChatStreamWriter::chunk() const {
  nlohmann::json chunk = {{"id", info_.id},
                          {"object", "chat.completion.chunk"},
                          {"created", info_.created},
                          {"model", info_.model},
                          {"system_fingerprint", info_.system_fingerprint},
                          {"choices", nlohmann::json::array()}};
  // With include_usage every chunk has the field, null but in the last (OpenAI's stream_options).
  if (include_usage_) chunk["usage"] = nullptr;
  return chunk;
}

std::string ChatStreamWriter::choice_chunk(int index, nlohmann::json delta, nlohmann::json logprobs,
                                           nlohmann::json finish_reason) {
  nlohmann::json out = chunk();
  out["choices"].push_back({{"index", index},
                            {"delta", std::move(delta)},
                            {"logprobs", std::move(logprobs)},
                            {"finish_reason", std::move(finish_reason)}});
  return sse::data(json_text(out));
}

std::string ChatStreamWriter::start(int index) {
  if (started_.at(static_cast<size_t>(index))) return {};
  started_[static_cast<size_t>(index)] = true;
  return choice_chunk(index, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr);
}

std::string ChatStreamWriter::events(int index, const std::vector<OutputEvent>& events) {
  std::string out = start(index);
  for (const OutputEvent& event : events) {
    nlohmann::json delta;
    nlohmann::json logprobs = nullptr;
    switch (event.kind) {
      case OutputEvent::Kind::reasoning:
        delta["reasoning_content"] = event.text;
        break;
      case OutputEvent::Kind::content:
        delta["content"] = event.text;
        if (info_.logprobs) logprobs = logprobs_json(event.logprobs);
        break;
      case OutputEvent::Kind::tool_call_start:
        delta["tool_calls"] = nlohmann::json::array({{{"index", event.tool_index},
                                                      {"id", event.call_id},
                                                      {"type", "function"},
                                                      {"function", {{"name", event.name}, {"arguments", ""}}}}});
        break;
      case OutputEvent::Kind::tool_call_arguments:
        delta["tool_calls"] =
            nlohmann::json::array({{{"index", event.tool_index}, {"function", {{"arguments", event.text}}}}});
        break;
    }
    out += choice_chunk(index, std::move(delta), std::move(logprobs), nullptr);
  }
  return out;
}

std::string ChatStreamWriter::finish(int index, const AssembledOutput& output) {
  return start(index) +
         choice_chunk(index, nlohmann::json::object(), nullptr, finish_reason_json(output.finish_reason));
}

std::string ChatStreamWriter::end(const Usage& usage) {
  std::string out;
  if (include_usage_) {
    nlohmann::json last = chunk();
    last["usage"] = completion_usage_json(usage);
    out += sse::data(json_text(last));
  }
  return out + sse::done();
}

}  // namespace gptoss::server
