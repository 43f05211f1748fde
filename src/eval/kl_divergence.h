// How far a model's next-token distributions Q drift from a base model's P, token by token, as
// llama.cpp's `--kl-divergence` reports it (tools/perplexity/perplexity.cpp).
#pragma once

#include <cstdint>
#include <span>

#include "eval/statistics.h"

namespace gptoss {

// KL(P ‖ Q) over the base model's top-K ids plus one outcome for all other ids:
//   Σ_{i in top K} p_i (log p_i − log q_i) + p_rest (log p_rest − log q_rest).
// Merging outcomes never increases a KL divergence, so this is a lower bound of the
// full-vocabulary KL, equal to it when the rest carries no mass, and 0 when Q = P.
double top_k_kl_divergence(std::span<const float> base_top_log_probs, double base_rest_log_prob,
                           std::span<const double> top_log_probs, double rest_log_prob);

struct KlSummary {
  int64_t tokens = 0;
  MeanAndError kl;
  double kl_median = 0, kl_p99 = 0, kl_max = 0;
  MeanAndError same_top;         // share of tokens whose most probable id is the base model's
  MeanAndError ppl, base_ppl;
  MeanAndError ppl_difference;   // PPL − PPL(base)
  MeanAndError ppl_ratio;        // PPL / PPL(base)
};

// Per scored token: the KL divergence, whether the top-1 ids agree, this model's negative
// log-likelihood and the base model's log-probability of the same token. The errors of the
// difference and ratio account for the correlation of the two models' NLLs, as llama.cpp does:
// σ²(a − b) = σ²(a) + σ²(b) − 2 cov(a, b).
KlSummary summarize_kl(std::span<const double> kl, std::span<const uint8_t> same_top, std::span<const double> nll,
                       std::span<const float> base_target_log_prob);

}  // namespace gptoss
