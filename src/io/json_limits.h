// Parsing JSON from files and the network without trusting it: nesting depth is bounded before
// nlohmann sees the text (its dump(), copies and comparisons recurse, so 100k nested '[' would
// overflow the stack), and values quoted in error messages are cut short.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gptoss {

// Deeper than anything a config, tokenizer or safetensors header needs (they nest < 10 levels).
inline constexpr int kMaxJsonDepth = 64;

// Throws Error("<origin>: JSON nests deeper than 64 levels") if any array or object is nested
// deeper than `max_depth`. A linear scan that skips string contents; it does not validate.
void check_json_depth(std::string_view text, const std::string& origin, int max_depth = kMaxJsonDepth);

// check_json_depth, then nlohmann::json::parse; a syntax error becomes
// Error("<origin>: not valid JSON: ...") with a short message.
nlohmann::json parse_untrusted_json(std::string_view text, const std::string& origin);

// `value` as at most ~60 bytes of JSON text for an error message: scalars are dumped and cut,
// arrays and objects are described ("an array of 3 elements") rather than dumped.
std::string json_excerpt(const nlohmann::json& value);

// `text` cut to at most ~60 bytes (with "..." when cut), for quoting untrusted strings.
std::string text_excerpt(std::string_view text);

}  // namespace gptoss
