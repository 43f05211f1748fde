// Runs evaluation windows through a model: the negative log-likelihood of every scored token,
// and on request its top-K log-probabilities (to save) or its KL divergence from a base model's
// saved ones. Windows run side by side as sequences of one Session, each from an empty context,
// fed in pieces so that only a bounded number of logit rows exists at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "eval/logit_store.h"
#include "eval/windows.h"
#include "gptoss/model.h"
#include "gptoss/session.h"

namespace gptoss {

struct EvaluationProgress {
  int64_t tokens_done = 0;   // tokens through the model so far
  int64_t tokens_total = 0;
  int64_t scored = 0;        // tokens scored so far
  double nll_sum = 0;        // their summed negative log-likelihood
};

struct EvaluationOptions {
  int batch_size = 1;            // windows evaluated side by side, one Session sequence each
  int tokens_per_forward = 256;  // tokens of all windows per forward call: at most this many logit rows
                                 // (vocab floats each, 0.8 MB for gpt-oss) exist at once
  int threads = 0;               // threads reducing logit rows; 0 = one per hardware thread
  int save_top_k = 0;            // > 0: keep the top-K log-probabilities of every scored token
  const TopLogProbs* base = nullptr;  // compare every scored token with these (same tokens and windows)
  // The Session's KV cache: exact by default, since an evaluation measures (bf16 keys move the
  // tiny model's NLLs by ~4e-3 and make scores depend on how windows were batched).
  KvOptions kv{.precision = KvPrecision::f32};
  std::function<bool()> should_stop;  // see SessionOptions::should_stop
  std::function<void(const EvaluationProgress&)> on_progress = {};  // after each forward call
};

struct Evaluation {
  std::vector<double> nll;        // per scored token, windows in order, tokens in order
  TopLogProbs top;                // with save_top_k
  std::vector<double> kl;         // with base: KL(base ‖ this model) per scored token
  std::vector<uint8_t> same_top;  // with base: 1 where the most probable ids agree
  int64_t tokens_evaluated = 0;   // tokens through the model
  double seconds = 0;
};

// Throws gptoss::Error for bad options or a base holding another number of tokens.
Evaluation evaluate(const Model& model, std::span<const int32_t> tokens, std::span<const Window> windows,
                    const EvaluationOptions& options);

}  // namespace gptoss
