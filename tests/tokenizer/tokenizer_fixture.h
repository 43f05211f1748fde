// The gpt-oss tokenizer for the tokenizer and harmony tests (the tiny model ships the real
// tokenizer.json), loaded once per test process.
#pragma once

#include "gptoss/tokenizer.h"
#include "support/test_support.h"

namespace gptoss::test {

inline const Tokenizer& gpt_oss_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::load(tiny_model_dir());
  return tokenizer;
}

}  // namespace gptoss::test
