// CLI11 validators for numbers that would otherwise change silently: CLI11 wraps "--seed -1" to
// 2^64-1 and clamps 1e23 and 2^64 to it. (--logit-bias ranges are checked by parse_logit_bias.)
#pragma once

#include <CLI/CLI.hpp>

namespace gptoss::tools {

// A whole number from 0 to 2^64-1, written in decimal digits only.
CLI::Validator seed_check();

}  // namespace gptoss::tools
