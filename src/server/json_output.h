// JSON pieces every writer shares: compact text that never throws on bytes that are not UTF-8,
// a token's logprob as Chat Completions and Responses report it, and the usage object of Chat
// Completions and Completions (CompletionUsage).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/output_assembler.h"
#include "server/usage.h"

namespace gptoss::server {

// `value` as one line of JSON; bytes that are not UTF-8 become U+FFFD rather than an exception.
std::string json_text(const nlohmann::json& value);

// A token's bytes as a JSON string: valid UTF-8, U+FFFD for the part of a character it holds
// (the `bytes` array beside it keeps them exact).
std::string token_string(std::string_view bytes);

// {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}.
nlohmann::json token_logprob_json(const TokenLogprob& logprob);

// {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details {cached_tokens},
// completion_tokens_details {reasoning_tokens}}.
nlohmann::json completion_usage_json(const Usage& usage);

}  // namespace gptoss::server
