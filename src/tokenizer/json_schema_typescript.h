// JSON Schema → the TypeScript-like type that harmony writes for a function's parameters
// (gpt-oss-model.md §4.4), rule for rule as openai/harmony's json_schema_to_typescript:
// properties in schema order, `?` unless required, descriptions and defaults as `//` comments,
// string enums as "a" | "b", integer as number, arrays as T[], nullable as `| null`, oneOf as
// `\n | ` alternatives.
#pragma once

#include <string>
#include <string_view>

namespace gptoss {

// Throws gptoss::Error naming `what` (e.g. "tool 'get_weather' parameters") if `schema` is not JSON.
std::string json_schema_to_typescript(std::string_view schema, const std::string& what);

}  // namespace gptoss
