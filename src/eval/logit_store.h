// The file `--save-logits` writes and `--kl-base` reads: per scored token, the model's top-K
// log-probabilities and the log-probability of everything else, as a safetensors file
// (docs/EVALUATION.md, "Saved log-probabilities").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gptoss {

// N scored tokens, in evaluation order.
struct TopLogProbs {
  int top_k = 0;
  std::vector<int32_t> target;          // [N] the scored token
  std::vector<float> target_log_prob;   // [N] its log-probability
  std::vector<float> rest_log_prob;     // [N] log Σ p over the ids outside the top K
  std::vector<int32_t> top_ids;         // [N, K] most probable first; of equal ones the lower id first
  std::vector<float> top_log_probs;     // [N, K]

  TopLogProbs() = default;
  TopLogProbs(int64_t tokens, int k);
  int64_t size() const { return static_cast<int64_t>(target.size()); }
};

// What the log-probabilities were computed from: a comparison needs the same.
struct EvaluationIdentity {
  int64_t vocab = 0;         // the model's logit rows
  uint64_t fingerprint = 0;  // evaluation_fingerprint(tokens, windows)
  std::string protocol;      // for messages, e.g. "windows of 4096, stride 4096"
};

// Written to "<path>.partial", then renamed: the file appears only when complete.
void save_top_log_probs(const std::filesystem::path& path, const TopLogProbs& records,
                        const EvaluationIdentity& identity);

// Reads `path` and checks it against `expected` (vocabulary and fingerprint), its tensors' shapes
// and dtypes, and every id; throws gptoss::Error naming the file and what differs.
TopLogProbs load_top_log_probs(const std::filesystem::path& path, const EvaluationIdentity& expected);

}  // namespace gptoss
