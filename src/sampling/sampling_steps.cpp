// The steps of mlx_lm's logits processors and sampler chain (mlx_lm/sample_utils.py) on one row.
#include "sampling/sampling_steps.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "gptoss/error.h"

namespace gptoss {
namespace sampling {
namespace {

bool ranks_above(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

std::string show(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

bool lower_logit(const Candidate& a, const Candidate& b) { return a.logit < b.logit; }

float max_logit(std::span<const Candidate> candidates) {
  return std::max_element(candidates.begin(), candidates.end(), lower_logit)->logit;
}

// The last `size` tokens of the history, checked against the vocabulary.
std::span<const int32_t> window(std::span<const int32_t> history, int size, size_t vocab) {
  const auto n = std::min(history.size(), static_cast<size_t>(size));
  const auto tokens = history.last(n);
  for (const int32_t id : tokens)
    if (id < 0 || static_cast<size_t>(id) >= vocab)
      throw Error("sampler: history token id " + std::to_string(id) + " is outside the vocabulary (" +
                  std::to_string(vocab) + " tokens)");
  return tokens;
}

// mlx_lm gathers the window's logits, changes them and scatters them back, so a token that
// occurs several times in the window is changed once.
std::vector<int32_t> distinct(std::span<const int32_t> tokens) {
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

void apply_logits_processors(const SamplerOptions& options, std::span<const int32_t> history,
                             std::span<float> logits) {
  for (const auto& [id, bias] : options.logit_bias) logits[static_cast<size_t>(id)] += bias;
  if (history.empty()) return;
  if (const float penalty = options.repetition_penalty; penalty != 0) {
    for (const int32_t id : distinct(window(history, options.repetition_context_size, logits.size()))) {
      float& logit = logits[static_cast<size_t>(id)];
      logit = logit < 0 ? logit * penalty : logit / penalty;
    }
  }
  if (options.presence_penalty != 0) {
    for (const int32_t id : distinct(window(history, options.presence_context_size, logits.size())))
      logits[static_cast<size_t>(id)] -= options.presence_penalty;
  }
  if (options.frequency_penalty != 0) {  // mlx_lm's logits.at[tokens].subtract: once per occurrence
    for (const int32_t id : window(history, options.frequency_context_size, logits.size()))
      logits[static_cast<size_t>(id)] -= options.frequency_penalty;
  }
}

int32_t argmax(std::span<const float> logits) {
  // max_element returns the first of equal maxima.
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

double log_sum_exp(std::span<const Candidate> candidates) {
  const float max = max_logit(candidates);
  double sum = 0;
  for (const auto& c : candidates) sum += std::exp(static_cast<double>(c.logit) - max);
  return max + std::log(sum);
}

void keep_top_p(std::vector<Candidate>& candidates, double top_p, double log_normalizer) {
  // A token stays while the tokens ranked above it hold less than top_p. Rather than sort the
  // ranking (on a flat distribution the nucleus is most of the vocabulary), a histogram of the
  // probability mass over logit buckets, from the top, finds the one bucket where the mass
  // crosses top_p; only that bucket is sorted.
  constexpr size_t kBuckets = 4096;
  const auto [lowest, highest] = std::minmax_element(candidates.begin(), candidates.end(), lower_logit);
  const float min = lowest->logit, max = highest->logit;
  const double scale = max > min ? (kBuckets - 1) / (static_cast<double>(max) - min) : 0;
  const auto bucket = [&](const Candidate& c) {  // 0 holds the largest logits
    return std::min(kBuckets - 1, static_cast<size_t>((static_cast<double>(max) - c.logit) * scale));
  };
  const auto probability = [&](const Candidate& c) { return std::exp(static_cast<double>(c.logit) - log_normalizer); };
  std::vector<double> bucket_mass(kBuckets);
  for (const auto& c : candidates) bucket_mass[bucket(c)] += probability(c);
  double mass_above = 0;
  size_t crossing = 0;
  while (crossing < kBuckets && mass_above + bucket_mass[crossing] < top_p) mass_above += bucket_mass[crossing++];
  if (crossing == kBuckets) return;  // everything stays

  const auto above = std::partition(candidates.begin(), candidates.end(),
                                    [&](const Candidate& c) { return bucket(c) < crossing; });
  const auto crossing_end =
      std::partition(above, candidates.end(), [&](const Candidate& c) { return bucket(c) == crossing; });
  std::sort(above, crossing_end, ranks_above);
  auto kept = above;
  for (; kept != crossing_end && mass_above < top_p; ++kept) mass_above += probability(*kept);
  candidates.erase(kept, candidates.end());
}

void keep_min_p(std::vector<Candidate>& candidates, double min_p, int min_tokens_to_keep) {
  const float max = max_logit(candidates);
  // In log space: logprob ≥ max logprob + log(min_p); the normaliser cancels.
  const double threshold = max + std::log(min_p);
  const auto kept = std::partition(candidates.begin(), candidates.end(),
                                   [&](const Candidate& c) { return c.logit >= threshold; });
  if (kept - candidates.begin() >= min_tokens_to_keep) {
    candidates.erase(kept, candidates.end());
  } else {
    keep_top_k(candidates, min_tokens_to_keep);
  }
}

void keep_top_k(std::vector<Candidate>& candidates, int k) {
  const auto n = static_cast<size_t>(k);
  if (n >= candidates.size()) return;
  std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n), candidates.end(),
                   ranks_above);
  candidates.resize(n);
}

double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int32_t draw(std::span<const Candidate> candidates, double temperature, double quantile, std::vector<double>& weights) {
  const float max = max_logit(candidates);
  weights.resize(candidates.size());
  double total = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(candidates[i].logit) - max) / temperature);
    total += weights[i];
  }
  const double target = quantile * total;
  double cumulative = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    cumulative += weights[i];
    if (target < cumulative) return candidates[i].id;
  }
  return candidates.back().id;  // rounding left the target at the very top
}

}  // namespace sampling

namespace sampling {

int32_t sample_row(const SamplerOptions& options, int32_t vocab_size, std::span<const float> logits,
                   std::span<const int32_t> history, double quantile, Workspace& w,
                   std::span<const uint32_t> allowed) {
  const auto vocab = static_cast<size_t>(vocab_size);
  if (logits.size() < vocab)
    throw Error("sampler: a row of " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                std::to_string(vocab) + " tokens");
  w.logits.assign(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(vocab));
  apply_logits_processors(options, history, w.logits);
  for (size_t i = 0; i < vocab; ++i)
    if (!std::isfinite(w.logits[i]))
      throw Error("sampler: the logit of token " + std::to_string(i) + " is " + show(w.logits[i]));
  const auto is_allowed = [&](size_t id) { return allowed.empty() || (allowed[id / 32] >> (id % 32) & 1u) != 0; };
  if (!allowed.empty()) {
    if (allowed.size() < (vocab + 31) / 32) throw Error("sampler: the allowed-token mask is shorter than the vocabulary");
    for (size_t i = 0; i < vocab; ++i)
      if (!is_allowed(i)) w.logits[i] = -INFINITY;  // argmax still prefers any allowed token
  }
  if (options.temperature == 0) return argmax(w.logits);

  w.candidates.clear();
  for (size_t i = 0; i < vocab; ++i)
    if (is_allowed(i)) w.candidates.push_back({w.logits[i], static_cast<int32_t>(i)});
  if (w.candidates.empty()) throw Error("sampler: the constraint allows no token");
  if (options.top_p > 0 && options.top_p < 1) keep_top_p(w.candidates, options.top_p, log_sum_exp(w.candidates));
  if (options.min_p != 0) keep_min_p(w.candidates, options.min_p, options.min_tokens_to_keep);
  if (options.top_k > 0) keep_top_k(w.candidates, options.top_k);
  return draw(w.candidates, options.temperature, quantile, w.weights);
}

void log_probs_of(std::span<const float> logits, int32_t token, int top, float& token_log_prob,
                  std::vector<std::pair<int32_t, float>>& best, Workspace& w) {
  float max = -INFINITY;
  for (const float x : logits) max = std::max(max, x);
  double sum = 0;
  for (const float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_normalizer = max + std::log(sum);
  token_log_prob = static_cast<float>(logits[static_cast<size_t>(token)] - log_normalizer);
  best.clear();
  if (top <= 0) return;
  w.candidates.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) w.candidates[i] = {logits[i], static_cast<int32_t>(i)};
  const auto n = std::min(static_cast<size_t>(top), w.candidates.size());
  std::partial_sort(w.candidates.begin(), w.candidates.begin() + static_cast<std::ptrdiff_t>(n), w.candidates.end(),
                    ranks_above);
  for (size_t i = 0; i < n; ++i)
    best.emplace_back(w.candidates[i].id, static_cast<float>(w.candidates[i].logit - log_normalizer));
}

}  // namespace sampling
}  // namespace gptoss
