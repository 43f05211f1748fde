// Reads a Hugging Face tokenizer.json of the kind gpt-oss ships: byte-level BPE behind a regex
// Split pre-tokenizer, plus added (special) tokens. Anything this engine would tokenize
// differently from Hugging Face (a normalizer, other pre-tokenizers, added-token options) is
// rejected with an error naming the key, rather than silently approximated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace gptoss {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
};

struct TokenizerJson {
  std::vector<std::pair<std::string, int32_t>> vocab;        // model.vocab, keys as raw bytes
  std::vector<std::pair<std::string, std::string>> merges;   // model.merges as raw bytes, rank order
  std::vector<AddedToken> added_tokens;
  std::string split_pattern;  // the Split pre-tokenizer's regex (Oniguruma syntax)
  bool ignore_merges = false;
};

// Throws gptoss::Error naming `file` and the offending key.
TokenizerJson read_tokenizer_json(const std::filesystem::path& file);

}  // namespace gptoss
