#include "server/completions_response.h"

#include "server/json_output.h"
#include "server/sse.h"

namespace gptoss::server {

namespace {

// Characters (code points) of valid UTF-8 text: what a client indexes the text by.
size_t characters(std::string_view text) {
  size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// {tokens, token_logprobs, top_logprobs, text_offset}; the first token's text begins `offset`
// characters into the choice's text, and `offset` ends past the last.
nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs, size_t& offset) {
  nlohmann::json tokens = nlohmann::json::array(), token_logprobs = nlohmann::json::array(),
                 top_logprobs = nlohmann::json::array(), text_offset = nlohmann::json::array();
  for (const TokenLogprob& logprob : logprobs) {
    const std::string token = token_string(logprob.token);
    tokens.push_back(token);
    token_logprobs.push_back(logprob.logprob);
    nlohmann::json top = nlohmann::json::object();
    for (const auto& [text, value] : logprob.top) top[token_string(text)] = value;
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset);
    offset += characters(token);
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top_logprobs)},
          {"text_offset", std::move(text_offset)}};
}

nlohmann::json finish_reason_json(const std::string& reason) {
  return reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason);
}

nlohmann::json completion_base(const CompletionInfo& info) {
  return {{"id", info.id},
          {"object", "text_completion"},
          {"created", info.created},
          {"model", info.model},
          {"system_fingerprint", info.system_fingerprint},
          {"choices", nlohmann::json::array()}};
}

}  // namespace

nlohmann::json text_completion(const CompletionInfo& info, const std::vector<AssembledOutput>& choices,
                               const Usage& usage) {
  nlohmann::json out = completion_base(info);
  for (size_t i = 0; i < choices.size(); ++i) {
    size_t offset = characters(info.echo);
    out["choices"].push_back(
        {{"text", info.echo + choices[i].content},
         {"index", i},
         {"logprobs", info.logprobs ? logprobs_json(choices[i].logprobs, offset) : nlohmann::json(nullptr)},
         {"finish_reason", finish_reason_json(choices[i].finish_reason)}});
  }
  out["usage"] = completion_usage_json(usage);
  return out;
}

CompletionStreamWriter::CompletionStreamWriter(CompletionInfo info, int choices, bool include_usage)
    : info_(std::move(info)),
      include_usage_(include_usage),
      echoed_(static_cast<size_t>(choices), false),
      text_offsets_(static_cast<size_t>(choices), 0) {}

std::string CompletionStreamWriter::chunk(int index, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                                          nlohmann::json finish_reason) {
  const size_t i = static_cast<size_t>(index);
  nlohmann::json out = completion_base(info_);
  nlohmann::json logprobs_field = nullptr;
  if (info_.logprobs) logprobs_field = logprobs_json(logprobs, text_offsets_.at(i));
  out["choices"].push_back(
      {{"text", text}, {"index", index}, {"logprobs", std::move(logprobs_field)}, {"finish_reason", std::move(finish_reason)}});
  if (include_usage_) out["usage"] = nullptr;
  return sse::data(json_text(out));
}

std::string CompletionStreamWriter::echo(int index) {
  const size_t i = static_cast<size_t>(index);
  if (echoed_.at(i)) return {};
  echoed_[i] = true;
  if (info_.echo.empty()) return {};
  text_offsets_[i] = characters(info_.echo);
  return chunk(index, info_.echo, {}, nullptr);
}

std::string CompletionStreamWriter::events(int index, const std::vector<OutputEvent>& events) {
  std::string out = echo(index);
  for (const OutputEvent& event : events)
    if (event.kind == OutputEvent::Kind::content) out += chunk(index, event.text, event.logprobs, nullptr);
  return out;
}

std::string CompletionStreamWriter::finish(int index, const AssembledOutput& output) {
  return echo(index) + chunk(index, "", {}, finish_reason_json(output.finish_reason));
}

std::string CompletionStreamWriter::end(const Usage& usage) {
  std::string out;
  if (include_usage_) {
    nlohmann::json last = completion_base(info_);
    last["usage"] = completion_usage_json(usage);
    out += sse::data(json_text(last));
  }
  return out + sse::done();
}

}  // namespace gptoss::server
