// Choosing the next token from a row of logits, as mlx_lm does (mlx_lm/sample_utils.py):
// logits processors (logit bias, then the repetition, presence and frequency penalties) on the
// raw logits; then either the argmax (temperature 0) or, above zero, the filters top-p, min-p and
// top-k in that order on the temperature-1 log-probabilities, and a categorical draw from the
// tokens they keep at the temperature. Temperature never changes which tokens survive.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace gptoss {

// Defaults are mlx_lm's (`mlx_lm generate` flags in brackets). "History" is what the caller
// passes to Sampler::sample: the tokens before the one being chosen, oldest first.
struct SamplerOptions {
  // 0: greedy, the largest logit (ties: the lowest id, as mlx's argmax). > 0: a draw with
  // probabilities ∝ exp(logprob / temperature) over the tokens the filters keep. [--temp 0]
  float temperature = 0;
  // Nucleus filter: ranks tokens by probability and keeps each one whose higher-ranked tokens
  // hold less than top_p of the probability. Only when 0 < top_p < 1 (mlx_lm ignores 0 and 1).
  // [--top-p 1]
  float top_p = 1;
  // Keeps the tokens whose probability is at least min_p times the largest one's; 0: off.
  // [--min-p 0]
  float min_p = 0;
  // min-p keeps at least this many tokens (the most probable ones). [--min-tokens-to-keep 1]
  int min_tokens_to_keep = 1;
  // Keeps the top_k most probable tokens; 0: off; the vocabulary size or more keeps them all
  // (mlx_lm refuses it). [--top-k 0]
  int top_k = 0;
  // Added to the logits of these token ids before the penalties (mlx_lm's logit_bias).
  std::vector<std::pair<int32_t, float>> logit_bias;
  // CTRL's repetition penalty (arXiv:1909.05858) as mlx_lm applies it: each distinct token among
  // the last repetition_context_size tokens of the history has its logit divided by the penalty
  // when positive, multiplied by it when negative. 0: off (mlx_lm's None); 1 changes nothing.
  float repetition_penalty = 0;
  int repetition_context_size = 20;
  // OpenAI's presence penalty over a window, as mlx_lm does: subtracted once from the logit of
  // each distinct token among the last presence_context_size tokens of the history. 0: off.
  float presence_penalty = 0;
  int presence_context_size = 20;
  // OpenAI's frequency penalty over a window, as mlx_lm does: subtracted from a token's logit once
  // per occurrence among the last frequency_context_size tokens of the history. 0: off.
  float frequency_penalty = 0;
  int frequency_context_size = 20;
  // Seeds the generator (std::mt19937_64, whose output the C++ standard fixes, and our own
  // conversion to [0, 1)), so a seed gives the same tokens on every platform; unset: seeded from
  // std::random_device. mlx's generator (--seed) cannot be reproduced: the same seed gives
  // different tokens than mlx_lm.
  std::optional<uint64_t> seed;
};

class Sampler {
 public:
  // Tokens with ids ≥ vocab_size (the rows that pad the model's vocabulary beyond the
  // tokenizer's) are never chosen and take no part in the probabilities (mlx_lm normalises over
  // the whole row, padding included). Throws gptoss::Error naming an option out of range or a
  // logit-bias id outside the vocabulary.
  Sampler(SamplerOptions options, int32_t vocab_size);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  // `logits`: one row of the model's output, at least vocab_size values. `history`: the tokens
  // before the one being chosen, oldest first; only the penalties read it. mlx_lm's
  // generate_step passes the last prompt token followed by the generated tokens (earlier prompt
  // tokens go through prefill unrecorded); passing the whole prompt also penalises the prompt's
  // tokens. Throws gptoss::Error for a non-finite logit or a history id outside the vocabulary.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // The next number of the seeded generator, in [0, 1): the quantile of one draw (what a
  // backend's sampling op takes, so that the generator stays on the host).
  double next_uniform();

  const SamplerOptions& options() const { return options_; }
  int32_t vocab_size() const { return vocab_size_; }

 private:
  struct Workspace;
  SamplerOptions options_;
  int32_t vocab_size_;
  std::unique_ptr<Workspace> workspace_;
};

// "ID:BIAS,ID:BIAS" (e.g. "200005:-100,1234:2.5") → the pairs for SamplerOptions::logit_bias.
// Throws gptoss::Error naming the malformed entry, a negative id, a non-finite bias or an id
// given twice.
std::vector<std::pair<int32_t, float>> parse_logit_bias(std::string_view text);

}  // namespace gptoss
