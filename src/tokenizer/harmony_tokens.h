// The harmony control tokens (gpt-oss-model.md §4.1) by their text, shared by the renderer and
// the parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gptoss/error.h"
#include "gptoss/tokenizer.h"

namespace gptoss::harmony {

inline constexpr std::string_view kStart = "<|start|>";
inline constexpr std::string_view kMessage = "<|message|>";
inline constexpr std::string_view kEnd = "<|end|>";
inline constexpr std::string_view kReturn = "<|return|>";
inline constexpr std::string_view kCall = "<|call|>";
inline constexpr std::string_view kChannel = "<|channel|>";
inline constexpr std::string_view kConstrain = "<|constrain|>";

// The id of a control token; throws gptoss::Error if the tokenizer has no such token.
inline int32_t control_token(const Tokenizer& tokenizer, std::string_view name) {
  const auto id = tokenizer.special_token(name);
  if (!id) throw Error("harmony: the tokenizer has no " + std::string(name) + " token");
  return *id;
}

}  // namespace gptoss::harmony
