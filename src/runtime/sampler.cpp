// Sampler: options checked once, a seeded generator, and the steps of sampling/sampling_steps.h.
#include "sampling/sampling_steps.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string>

#include "gptoss/error.h"

namespace gptoss {


namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("sampler: " + what);
}

void validate(const SamplerOptions& o, int32_t vocab_size) {
  require(vocab_size > 0, "the vocabulary is empty");
  const auto in = [](float x, float lo, float hi) { return x >= lo && x <= hi; };  // false for NaN
  require(std::isfinite(o.temperature) && o.temperature >= 0, "temperature must be ≥ 0");
  require(in(o.top_p, 0, 1), "top_p must be in [0, 1]");
  require(in(o.min_p, 0, 1), "min_p must be in [0, 1]");
  require(o.min_tokens_to_keep >= 1, "min_tokens_to_keep must be ≥ 1");
  require(o.top_k >= 0, "top_k must be ≥ 0");
  require(std::isfinite(o.repetition_penalty) && o.repetition_penalty >= 0, "repetition_penalty must be ≥ 0");
  require(std::isfinite(o.presence_penalty), "presence_penalty must be finite");
  require(std::isfinite(o.frequency_penalty), "frequency_penalty must be finite");
  require(o.repetition_context_size >= 1 && o.presence_context_size >= 1 && o.frequency_context_size >= 1,
          "penalty context sizes must be ≥ 1");
  for (const auto& [id, bias] : o.logit_bias) {
    require(id >= 0 && id < vocab_size, "logit bias token id " + std::to_string(id) + " is outside the vocabulary (" +
                                            std::to_string(vocab_size) + " tokens)");
    require(std::isfinite(bias), "logit bias of token " + std::to_string(id) + " is not finite");
  }
}

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

uint64_t random_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

struct Sampler::Workspace {
  std::mt19937_64 rng;
  sampling::Workspace row;
};

Sampler::Sampler(SamplerOptions options, int32_t vocab_size)
    : options_(std::move(options)), vocab_size_(vocab_size), workspace_(std::make_unique<Workspace>()) {
  validate(options_, vocab_size_);
  workspace_->rng.seed(options_.seed ? *options_.seed : random_seed());
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  const double quantile = options_.temperature == 0 ? 0.0 : next_uniform();
  return sampling::sample_row(options_, vocab_size_, logits, history, quantile, workspace_->row);
}

double Sampler::next_uniform() { return sampling::uniform(workspace_->rng); }

std::vector<std::pair<int32_t, float>> parse_logit_bias(std::string_view text) {
  std::vector<std::pair<int32_t, float>> biases;
  std::set<int32_t> seen;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view entry = trim(text.substr(start, comma - start));
    start = comma + 1;
    const auto fail = [&](const std::string& why) {
      throw Error("logit bias '" + std::string(entry) + "': " + why);
    };
    const size_t colon = entry.find(':');
    if (colon == std::string_view::npos) fail("expected ID:BIAS");
    const std::string_view id_text = trim(entry.substr(0, colon)), bias_text = trim(entry.substr(colon + 1));
    int32_t id = 0;
    float bias = 0;
    const auto id_end = id_text.data() + id_text.size(), bias_end = bias_text.data() + bias_text.size();
    // from_chars leaves the value alone when it is out of range: check ec, or 4294967296
    // would bias token 0 and 1e39 would add nothing.
    const auto id_parse = std::from_chars(id_text.data(), id_end, id);
    if (id_parse.ec == std::errc::result_out_of_range) fail("the token id is out of range");
    if (id_parse.ptr != id_end || id_parse.ec != std::errc() || id_text.empty()) fail("the id is not an integer");
    const auto bias_parse = std::from_chars(bias_text.data(), bias_end, bias);
    if (bias_parse.ec == std::errc::result_out_of_range) fail("the bias is out of a float's range");
    if (bias_parse.ptr != bias_end || bias_parse.ec != std::errc() || bias_text.empty())
      fail("the bias is not a number");
    if (id < 0) fail("negative token id");
    if (!std::isfinite(bias)) fail("the bias is not finite");
    if (!seen.insert(id).second) fail("token " + std::to_string(id) + " is given twice");
    biases.emplace_back(id, bias);
  }
  return biases;
}

}  // namespace gptoss
