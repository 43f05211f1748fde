// Each subcommand of the `gptoss` program lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace gptoss::tools {

void add_bench_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_detokenize_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_serve_command(CLI::App& app);

// "1,2,3" → {1, 2, 3}; throws gptoss::Error naming the bad entry.
std::vector<int32_t> parse_token_list(const std::string& text);

}  // namespace gptoss::tools
