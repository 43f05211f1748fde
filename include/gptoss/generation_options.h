// What a generation is asked to do, and what it reports: shared by Generator and Scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gptoss/sampler.h"
#include "gptoss/token_constraint.h"

namespace gptoss {

struct GenerationOptions {
  int max_tokens = 256;              // mlx_lm's generate() default (its CLI's is 100)
  SamplerOptions sampler;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
  int prefill_step_size = 2048;      // prompt tokens per forward pass, as mlx_lm
  bool logprobs = false;             // report each token's log-probability
  int top_logprobs = 0;              // and the log-probabilities of this many most probable tokens
  // Ids ≥ this are never sampled (the model's 201,088 rows pad beyond the tokenizer's
  // 200,019 ids); 0: the model's whole vocabulary.
  int32_t sample_vocab_size = 0;
  // Limits the tokens each step may choose (structured outputs); null: any token. It keeps the
  // generation's state, so each request needs its own.
  std::shared_ptr<TokenConstraint> constraint;
};

enum class FinishReason {
  none,          // still generating
  stop,          // a stop token was emitted (it is the last token)
  length,        // max_tokens generated
  context_full,  // the sequence reached the session's context length (see max_kv_size)
  cancelled,     // the caller cancelled it
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

}  // namespace gptoss
