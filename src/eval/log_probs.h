// The log-probabilities one logits row defines: softmax over all of the model's logit rows
// (201,088 for gpt-oss, padding ids included, as transformers computes them), reduced to what
// evaluation keeps. Float32 exponentials, double sums.
#pragma once

#include <cstdint>
#include <span>

namespace gptoss {

struct RowLogProbs {
  float max_logit = 0;
  double target = 0;  // log p(target)
  double rest = 0;    // log of the probability outside `kept` (−inf if it underflows)
};

// Log-probabilities of `target` and of each id in `kept` (written to `kept_log_probs`), and of
// everything else together. `scratch` must hold logits.size() floats.
RowLogProbs row_log_probs(std::span<const float> logits, int32_t target, std::span<const int32_t> kept,
                          std::span<double> kept_log_probs, std::span<float> scratch);

// The ids of the out.size() largest logits, largest first; of equal logits the lower id first.
void top_k_ids(std::span<const float> logits, std::span<int32_t> out);

// The lowest id whose logit is `max_logit` (the row's maximum).
int32_t first_argmax(std::span<const float> logits, float max_logit);

}  // namespace gptoss
