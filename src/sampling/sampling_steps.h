// The steps of choosing a token from one row of logits, one function each, so that tests can
// check them apart; sample_row runs them all. Used by gptoss::Sampler and by the CPU backend's
// sampling op (a GPU backend implements the same steps in its own kernels).
//
// Every filter keeps a prefix of the same ranking: larger logit first, and among equal logits
// the lower id first (the order in which greedy decoding prefers them).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "gptoss/sampler.h"

namespace gptoss::sampling {

struct Candidate {
  float logit;
  int32_t id;
};

// mlx_lm's logits processors, in its order: logit bias, repetition, presence, frequency.
// `logits` is the row cut to the vocabulary; history ids must lie inside it.
void apply_logits_processors(const SamplerOptions& options, std::span<const int32_t> history,
                             std::span<float> logits);

// The index of the largest value; the lowest such index on ties (mlx's argmax).
int32_t argmax(std::span<const float> logits);

// log Σ exp(logit) over the candidates: what turns their logits into log-probabilities.
double log_sum_exp(std::span<const Candidate> candidates);

// mlx_lm's apply_top_p: keeps a candidate when the candidates ranked above it hold less than
// `top_p` of the probability (log_normalizer: log_sum_exp of the whole row).
void keep_top_p(std::vector<Candidate>& candidates, double top_p, double log_normalizer);
// mlx_lm's apply_min_p: keeps the candidates with probability ≥ min_p × the largest one's, and
// at least the `min_tokens_to_keep` best.
void keep_min_p(std::vector<Candidate>& candidates, double min_p, int min_tokens_to_keep);
// mlx_lm's apply_top_k: keeps the k best candidates.
void keep_top_k(std::vector<Candidate>& candidates, int k);

// 53 random bits → [0, 1). Our own conversion: std::uniform_real_distribution's algorithm
// differs between standard libraries, and a seed must give the same tokens everywhere.
double uniform(std::mt19937_64& rng);

// The candidate at `quantile` ∈ [0, 1) of the cumulative distribution, in the candidates' order,
// with probabilities ∝ exp(logit / temperature). Candidates: not empty; `weights`: scratch space.
int32_t draw(std::span<const Candidate> candidates, double temperature, double quantile,
             std::vector<double>& weights);

// Scratch memory reused from row to row.
struct Workspace {
  std::vector<float> logits;  // the row, cut to the vocabulary, after the processors
  std::vector<Candidate> candidates;
  std::vector<double> weights;
};

// Every step on one row: the processors, then argmax at temperature 0, else the filters and a
// draw at `quantile`. `allowed` (a bit per id, see TokenConstraint; empty: all) leaves only
// those tokens as candidates, before the filters. Throws gptoss::Error for a row shorter than
// vocab_size or a non-finite logit after the processors.
int32_t sample_row(const SamplerOptions& options, int32_t vocab_size, std::span<const float> logits,
                   std::span<const int32_t> history, double quantile, Workspace& workspace,
                   std::span<const uint32_t> allowed = {});

// The log-probability of `token` under softmax(logits) (the model's own distribution), and the
// `top` most probable tokens with theirs, best first.
void log_probs_of(std::span<const float> logits, int32_t token, int top, float& token_log_prob,
                  std::vector<std::pair<int32_t, float>>& best, Workspace& workspace);

}  // namespace gptoss::sampling
