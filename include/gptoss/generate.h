// Token generation, step by step: one request of a Scheduler (prefill the prompt, then sample
// one token at a time until a stop token, the token budget or the context limit).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gptoss/generation_options.h"
#include "gptoss/scheduler.h"

namespace gptoss {

class Generator {
 public:
  // Generates through `scheduler`, which must outlive the generator.
  Generator(Scheduler& scheduler, const GenerationOptions& options);
  ~Generator();  // cancels a generation still running
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Submits `prompt` and waits for its first token (prefill). Throws gptoss::Error if the
  // prompt is empty, holds an id outside the vocabulary or does not fit the context.
  void start(std::span<const int32_t> prompt);
  // The next generated token, or nothing once finished (finish_reason() says why).
  std::optional<int32_t> next();
  // The latest token's log-probabilities (GenerationOptions::logprobs / top_logprobs).
  const TokenEvent& last_event() const { return last_; }

  FinishReason finish_reason() const;
  GenerationStats stats() const;
  // The prompt and generated tokens of this generation.
  const std::vector<int32_t>& history() const { return history_; }
  int cached_prompt_tokens() const;  // prompt tokens the prefix cache supplied

 private:
  Scheduler& scheduler_;
  GenerationOptions options_;
  Scheduler::Handle request_;
  std::optional<TokenEvent> pending_;  // the first token, computed by start()
  TokenEvent last_;
  std::vector<int32_t> history_;
};

}  // namespace gptoss
