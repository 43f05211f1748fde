// CLI11 validators for numbers that would otherwise change silently: CLI11 wraps "--seed -1" to
// 2^64-1 and clamps 1e23 and 2^64 to it; std::from_chars leaves an out-of-range value at its
// old 0, so "--logit-bias 4294967296:100" biased token 0 and "1:1e39" was ignored.
#pragma once

#include <CLI/CLI.hpp>

namespace gptoss::tools {

// A whole number from 0 to 2^64-1, written in decimal digits only.
CLI::Validator seed_check();

// Every ID:BIAS entry's id fits a token id (below 2^31) and its bias a float (|bias| ≤ 3.4e38).
// Other mistakes (a missing colon, words) are left to parse_logit_bias, which names them.
CLI::Validator logit_bias_range_check();

}  // namespace gptoss::tools
