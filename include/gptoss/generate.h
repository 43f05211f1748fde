// Token generation on one sequence of a Session, step by step: prefill the prompt, then sample
// one token at a time until a stop token, the token budget or the context limit.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gptoss/sampler.h"
#include "gptoss/session.h"

namespace gptoss {

struct GenerationOptions {
  int max_tokens = 256;              // mlx_lm's generate() default (its CLI's is 100)
  SamplerOptions sampler;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
  int prefill_step_size = 2048;      // prompt tokens per forward pass, as mlx_lm
  // Ids ≥ this are never sampled (the model's 201,088 rows pad beyond the tokenizer's
  // 200,019 ids); 0: the model's whole vocabulary.
  int32_t sample_vocab_size = 0;
};

enum class FinishReason {
  none,          // still generating
  stop,          // a stop token was emitted (it is the last token)
  length,        // max_tokens generated
  context_full,  // the sequence reached the session's context length (see max_kv_size)
};
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "context_full"

// mlx_lm's statistics: prompt tok/s over the time to the first token (prefill plus the first
// sample); generation tok/s counts every generated token over the time since the first one.
struct GenerationStats {
  int prompt_tokens = 0;
  double time_to_first_token = 0;  // seconds
  int generation_tokens = 0;
  double generation_seconds = 0;   // since the first token
  double prompt_tps() const { return time_to_first_token > 0 ? prompt_tokens / time_to_first_token : 0; }
  double generation_tps() const { return generation_seconds > 0 ? generation_tokens / generation_seconds : 0; }
};

class Generator {
 public:
  // Generates on `sequence` of `session`, which must outlive the generator.
  Generator(Session& session, const GenerationOptions& options, int sequence = 0);

  // Appends `prompt` to the sequence (after whatever it already holds) and samples the first
  // token. Throws gptoss::Error if the prompt does not fit the context.
  void start(std::span<const int32_t> prompt);
  // The next generated token, or nothing once finished (finish_reason() says why).
  std::optional<int32_t> next();

  FinishReason finish_reason() const { return finish_; }
  const GenerationStats& stats() const { return stats_; }
  // The prompt and generated tokens of this generation.
  const std::vector<int32_t>& history() const { return history_; }

 private:
  std::optional<int32_t> sample_from(const Logits& logits);

  Session& session_;
  GenerationOptions options_;
  int sequence_;
  Sampler sampler_;
  std::vector<int32_t> history_;
  size_t penalty_from_ = 0;  // the penalties see the last prompt token and what follows, as mlx_lm
  std::optional<int32_t> pending_;  // sampled, not yet returned by next()
  FinishReason finish_ = FinishReason::none;
  GenerationStats stats_;
  double start_time_ = 0, first_token_time_ = 0;
};

}  // namespace gptoss
