// Helpers for the grammar tests: compiling schemas from text, running a matcher over a document.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "grammar/json_schema.h"
#include "grammar/matcher.h"

namespace gptoss::test {

inline grammar::Grammar compile_schema_text(std::string_view schema) {
  return grammar::compile_json_schema(nlohmann::ordered_json::parse(schema));
}

// Whether the matcher reads every byte of `text`.
inline bool reads_all(grammar::Matcher& matcher, std::string_view text) {
  for (const char c : text)
    if (!matcher.advance(static_cast<unsigned char>(c))) return false;
  return true;
}

// Whether `text` is a whole document of `grammar`.
inline bool accepts(const grammar::Grammar& grammar, std::string_view text) {
  grammar::Matcher matcher(grammar);
  return reads_all(matcher, text) && matcher.complete();
}

}  // namespace gptoss::test
