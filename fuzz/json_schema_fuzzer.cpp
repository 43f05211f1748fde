// Feeds arbitrary bytes to the JSON Schema compiler and the matcher: the input is split at its
// first NUL into a schema (JSON text) and a document. The compiler must return a grammar or throw
// UnsupportedSchema (or nlohmann's parse error, for text that is not JSON), never crash, hang or
// exhaust memory; the matcher must read the document byte by byte without crashing, a copy made
// midway must agree with the original on what follows.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view schema_text = input.substr(0, split);
  const std::string_view document = split == std::string_view::npos ? std::string_view{} : input.substr(split + 1);
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) return 0;
  std::optional<gptoss::grammar::Grammar> grammar;
  try {
    grammar.emplace(gptoss::grammar::compile_json_schema(schema));
  } catch (const gptoss::grammar::UnsupportedSchema&) {
    return 0;
  }
  gptoss::grammar::Matcher matcher(*grammar);
  for (size_t i = 0; i < document.size(); ++i) {
    if (i == document.size() / 2) {
      gptoss::grammar::Matcher copy(matcher);
      for (size_t j = i; j < document.size(); ++j) {
        const auto byte = static_cast<unsigned char>(document[j]);
        const bool a = copy.advance(byte);
        if (a != matcher.advance(byte)) __builtin_trap();
        if (!a) break;
      }
      if (copy.complete() != matcher.complete()) __builtin_trap();
      return 0;
    }
    if (!matcher.advance(static_cast<unsigned char>(document[i]))) return 0;
  }
  matcher.complete();
  return 0;
}
