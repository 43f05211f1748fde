#include "tools/generation_flags.h"

#include <unistd.h>

#include <cstdio>

#include "gptoss/error.h"
#include "gptoss/hub.h"
#include "tools/model_directory.h"
#include "tools/number_checks.h"
#include "tools/resource_flags.h"

namespace gptoss::tools {

void add_generation_flags(CLI::App* cmd, GenerationFlags& f, int default_max_tokens) {
  SamplerOptions& s = f.generation.sampler;
  f.generation.max_tokens = default_max_tokens;
  cmd->add_option("-m,--model", f.model, "Model directory or Hugging Face repo id")->required();
  add_device_flags(cmd, f.device);
  add_kv_flags(cmd, f.device);
  cmd->add_option("--max-tokens", f.generation.max_tokens, "Most tokens to generate")->capture_default_str();
  cmd->add_option("--temp", s.temperature, "Sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Keep the most likely tokens up to this probability mass")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Keep only the k most likely tokens; 0 = off")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min-p × the top probability; 0 = off")->capture_default_str();
  cmd->add_option("--seed", s.seed, "Random seed, 0 to 2^64-1 (default: random)")->check(seed_check());
  add_positive_flag(cmd, "--max-kv-size", f.max_kv_size,
                    "Full-attention layers keep only the last N tokens: bounded memory, no context limit");
  cmd->add_option("--repetition-penalty", s.repetition_penalty, "Penalty for repeated tokens (1 = off)");
  cmd->add_option("--repetition-context-size", s.repetition_context_size, "Tokens the repetition penalty looks back")
      ->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "Subtracted from tokens already generated")
      ->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Subtracted per time a token was generated")
      ->capture_default_str();
  cmd->add_option("--logit-bias", f.logit_bias, "Added to logits: ID:BIAS,ID:BIAS");
  cmd->add_option("--reasoning-effort", f.reasoning_effort, "low, medium or high")->capture_default_str();
  cmd->add_flag("--show-reasoning", f.show_reasoning, "Also print the analysis channel, labelled");
  cmd->add_option("--system", f.system, "The system message's identity line (default: harmony's)");
  cmd->add_option("--developer", f.developer, "Developer instructions");
}

harmony::ReasoningEffort reasoning_effort(const std::string& name) {
  if (const auto effort = harmony::parse_reasoning_effort(name)) return *effort;
  throw Error("--reasoning-effort: '" + name + "' (use low, medium or high)");
}

harmony::SystemContent system_content(const GenerationFlags& flags) {
  harmony::SystemContent system;
  system.current_date = harmony::current_date();
  system.reasoning_effort = reasoning_effort(flags.reasoning_effort);
  if (!flags.system.empty()) system.identity = flags.system;
  return system;
}

void finish_generation_flags(GenerationFlags& f, const Tokenizer& tokenizer) {
  reasoning_effort(f.reasoning_effort);
  if (f.max_kv_size < 0) throw Error("--max-kv-size: must be positive");
  if (f.generation.max_tokens < 0) throw Error("--max-tokens: must not be negative");
  if (!f.logit_bias.empty()) f.generation.sampler.logit_bias = parse_logit_bias(f.logit_bias);
  f.generation.sample_vocab_size = tokenizer.vocab_size();  // never sample ids the tokenizer lacks
}

LoadedChatModel load_model_and_tokenizer(const std::string& name, const DeviceFlags& device) {
  const std::filesystem::path dir = model_directory(name);
  LoadedChatModel loaded;
  loaded.model = Model::load(dir, load_options(device));
  loaded.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  return loaded;
}

CompletionPrinter::CompletionPrinter(bool show_reasoning)
    : show_reasoning_(show_reasoning), color_(::isatty(1) != 0) {}

void CompletionPrinter::print(const TextStream::Delta& d) {
  if (d.fell_back) {
    std::fflush(stdout);
    std::fprintf(stderr, "\n(note: the output does not follow the harmony format; it is shown as plain text)\n");
    visible_ = true;
  } else if (d.message_start) {
    visible_ = d.channel == "final" || show_reasoning_;
    if (visible_ && show_reasoning_) {
      std::string label = "[" + (d.channel.empty() ? std::string("message") : d.channel);
      if (!d.recipient.empty()) label += " → " + d.recipient;
      label += "]";
      std::printf("%s%s%s%s\n", printed_ ? "\n" : "", color_ ? "\x1b[2m" : "", label.c_str(), color_ ? "\x1b[0m" : "");
      printed_ = true;
    }
  } else if (d.channel.empty() && !d.text.empty()) {
    visible_ = true;  // plain text
  }
  if (!visible_ || d.text.empty()) return;
  const bool dim = color_ && show_reasoning_ && !d.channel.empty() && d.channel != "final";
  std::printf("%s%s%s", dim ? "\x1b[2m" : "", d.text.c_str(), dim ? "\x1b[0m" : "");
  std::fflush(stdout);
  printed_ = true;
}

void CompletionPrinter::finish(const TextStream::Delta& tail) {
  print(tail);
  if (printed_) std::printf("\n");
  std::fflush(stdout);
  printed_ = false;
  visible_ = false;
}

}  // namespace gptoss::tools
