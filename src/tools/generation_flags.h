// What `generate` and `chat` share: the sampling flags (mlx_lm's names and defaults), loading a
// model with its tokenizer, and printing a completion as it streams.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "gptoss/generate.h"
#include "gptoss/harmony.h"
#include "gptoss/text_stream.h"
#include "gptoss/tokenizer.h"
#include "tools/device_flags.h"

namespace gptoss::tools {

struct GenerationFlags {
  std::string model;
  DeviceFlags device;
  int max_kv_size = 0;
  std::string logit_bias;
  std::string reasoning_effort = "medium";
  bool show_reasoning = false;
  std::string system;     // the system message's identity line; empty: harmony's
  std::string developer;  // developer instructions; empty: none
  GenerationOptions generation;
};

// -m/--model, --device, -t/--threads, --kv-dtype, --kv-memory, --max-tokens, --temp, --top-p, --top-k, --min-p, --seed,
// --max-kv-size, --repetition-penalty, --repetition-context-size, --presence-penalty,
// --frequency-penalty, --logit-bias, --reasoning-effort, --show-reasoning, --system, --developer.
void add_generation_flags(CLI::App* cmd, GenerationFlags& flags, int default_max_tokens);

// Turns the parsed flag text (logit bias, reasoning effort) into options; throws on bad values.
void finish_generation_flags(GenerationFlags& flags, const Tokenizer& tokenizer);
harmony::ReasoningEffort reasoning_effort(const std::string& name);
// The system message the flags ask for, dated today.
harmony::SystemContent system_content(const GenerationFlags& flags);

struct LoadedChatModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};
// A local directory or a Hugging Face repo id (resolved through the hub cache).
LoadedChatModel load_model_and_tokenizer(const std::string& model, const DeviceFlags& device);

// Prints deltas to stdout as they come: the final channel plainly; with show_reasoning the
// analysis (and commentary) too, each message under a label such as "[analysis]".
class CompletionPrinter {
 public:
  explicit CompletionPrinter(bool show_reasoning);
  void print(const TextStream::Delta& delta);
  void finish(const TextStream::Delta& tail);  // prints the stream's end; ends the line

 private:
  bool show_reasoning_;
  bool color_;
  bool printed_ = false;
  bool visible_ = false;  // whether the current message is shown
};

}  // namespace gptoss::tools
