#include "eval/log_probs.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "util/multiversion.h"

namespace gptoss {

namespace {

// Non-NaN floats order like these integers (negative floats have their magnitude bits flipped),
// so the maximum becomes an integer reduction, which compilers vectorise without -ffast-math.
inline int32_t ordered_bits(float value) {
  const auto bits = std::bit_cast<int32_t>(value);
  return bits ^ ((bits >> 31) & 0x7fffffff);
}

GPTOSS_MULTIVERSION float row_max(const float* x, int64_t n) {
  int32_t best = ordered_bits(-INFINITY);
  for (int64_t i = 0; i < n; ++i) best = std::max(best, ordered_bits(x[i]));
  return std::bit_cast<float>(best ^ ((best >> 31) & 0x7fffffff));
}

// exp(x) for x ≤ 0 to ~1e-7 relative: x = k·ln2 + r with |r| ≤ ln2/2, exp(r) by Cephes' expf
// polynomial, 2^k through the exponent bits. Below −87 (exp < 2^-125) x is read as −87: such
// terms are far below the precision of a sum that includes the maximum's 1.
inline float exp_nonpositive(float x) {
  const float v = std::max(x, -87.f);
  const float k = (v * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest: 1.5·2^23 trick
  const float r = v - k * 0.693359375f + k * 2.12194440e-4f;             // ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  // A NaN logit (NaN weights) must come out NaN, for the caller to name it; converting a NaN k
  // to an integer would be undefined, so its exponent part is taken as 1 (p is NaN already).
  const int32_t exponent = k == k ? static_cast<int32_t>(k) : 0;
  return p * std::bit_cast<float>((exponent + 127) * (1 << 23));
}

// Blocks of float partial sums (16 lanes, ≤ 64 terms each), added up in double.
constexpr int64_t kBlock = 1024;

// out[i] = exp(x[i] − shift) for x[i] ≤ shift; returns Σ out[i].
GPTOSS_MULTIVERSION double exp_and_sum(const float* x, float shift, float* out, int64_t n) {
  double total = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    float partial[16] = {};
    for (int64_t b = i; b < i + kBlock; b += 16)
      for (int j = 0; j < 16; ++j) {
        out[b + j] = exp_nonpositive(x[b + j] - shift);
        partial[j] += out[b + j];
      }
    for (const float p : partial) total += p;
  }
  for (; i < n; ++i) {
    out[i] = exp_nonpositive(x[i] - shift);
    total += out[i];
  }
  return total;
}

GPTOSS_MULTIVERSION double sum(const float* x, int64_t n) {
  double total = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    float partial[16] = {};
    for (int64_t b = i; b < i + kBlock; b += 16)
      for (int j = 0; j < 16; ++j) partial[j] += x[b + j];
    for (const float p : partial) total += p;
  }
  for (; i < n; ++i) total += x[i];
  return total;
}

}  // namespace

RowLogProbs row_log_probs(std::span<const float> logits, int32_t target, std::span<const int32_t> kept,
                          std::span<double> kept_log_probs, std::span<float> scratch) {
  const auto n = static_cast<int64_t>(logits.size());
  RowLogProbs out;
  out.max_logit = row_max(logits.data(), n);
  const double total = exp_and_sum(logits.data(), out.max_logit, scratch.data(), n);
  const double log_normalizer = out.max_logit + std::log(total);
  out.target = logits[static_cast<size_t>(target)] - log_normalizer;
  for (size_t i = 0; i < kept.size(); ++i) {
    kept_log_probs[i] = logits[static_cast<size_t>(kept[i])] - log_normalizer;
    scratch[static_cast<size_t>(kept[i])] = 0.f;
  }
  // The rest is summed directly, not as total − kept: a confident model leaves the rest far
  // below the total's rounding error.
  out.rest = kept.empty() ? 0.0 : std::log(sum(scratch.data(), n)) - std::log(total);
  return out;
}

void top_k_ids(std::span<const float> logits, std::span<int32_t> out) {
  const size_t k = out.size();
  if (k == 0) return;
  // out[0..filled) sorted by (logit descending, id ascending); a logit must beat the k-th.
  size_t filled = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (filled == k && !(v > logits[static_cast<size_t>(out[k - 1])])) continue;
    size_t at = filled < k ? filled++ : k - 1;
    for (; at > 0 && logits[static_cast<size_t>(out[at - 1])] < v; --at) out[at] = out[at - 1];
    out[at] = static_cast<int32_t>(i);
  }
}

int32_t first_argmax(std::span<const float> logits, float max_logit) {
  return static_cast<int32_t>(std::find(logits.begin(), logits.end(), max_logit) - logits.begin());
}

}  // namespace gptoss
