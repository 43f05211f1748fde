// The flags several commands share for how much machine to use (-t/--threads) and how long a
// context to reserve (-c/--ctx, --max-kv-size). Out-of-range values are parse errors: a
// negative or zero count used to fall back to the default without a word.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace gptoss::tools {

// -t/--threads: 1..1024 threads; 0 (or absent) means all cores.
CLI::Option* add_threads_flag(CLI::App* cmd, int& threads, const std::string& what = "CPU threads");

// A count that must be at least 1 when given (-c/--ctx, --max-kv-size); absent keeps `value`.
CLI::Option* add_positive_flag(CLI::App* cmd, const std::string& names, int& value, const std::string& description);

}  // namespace gptoss::tools
