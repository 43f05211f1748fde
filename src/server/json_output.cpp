#include "server/json_output.h"

#include "tokenizer/utf8.h"

namespace gptoss::server {

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

std::string token_string(std::string_view bytes) {
  std::string text;
  append_utf8_lossy(bytes, text, /*final=*/true);
  return text;
}

nlohmann::json token_logprob_json(const TokenLogprob& logprob) {
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < logprob.top.size(); ++i)
    top.push_back({{"token", token_string(logprob.top[i].first)},
                   {"logprob", logprob.top[i].second},
                   {"bytes", logprob.top_bytes[i]}});
  return {{"token", token_string(logprob.token)},
          {"logprob", logprob.logprob},
          {"bytes", logprob.bytes},
          {"top_logprobs", std::move(top)}};
}

nlohmann::json completion_usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.total_tokens()},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}}};
}

}  // namespace gptoss::server
