// Helpers for the grammar tests: compiling schemas from text, running a matcher over a document,
// and gpt-oss's vocabulary (the tiny model ships the real tokenizer), built once per process.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "gptoss/tokenizer.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/vocabulary.h"
#include "support/test_support.h"

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

inline const Tokenizer& gpt_oss_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::load(tiny_model_dir());
  return tokenizer;
}

inline const grammar::Vocabulary& gpt_oss_vocabulary() {
  static const grammar::Vocabulary vocabulary(gpt_oss_tokenizer());
  return vocabulary;
}

}  // namespace gptoss::test
