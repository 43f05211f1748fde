// Documents → the one token stream that evaluation windows are cut from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gptoss/tokenizer.h"

namespace gptoss {

struct TokenStreamOptions {
  std::optional<int32_t> separator;  // a token put between consecutive documents (EOS), or none
  bool parse_special = false;        // special-token strings in the text become their ids
  int64_t max_tokens = 0;            // keep only the first max_tokens tokens; 0 = all
};

// Each document is encoded on its own, with nothing added, and the results are concatenated
// (with the separator between them, if any). Documents that encode to nothing are skipped.
std::vector<int32_t> build_token_stream(const Tokenizer& tokenizer, std::span<const std::string> documents,
                                        const TokenStreamOptions& options);

}  // namespace gptoss
