// Sampler: greedy and seeded reproducibility, the penalties, the filters, and chi-square tests of
// the empirical distributions against mlx_lm's semantics (mlx_lm/sample_utils.py), computed here
// independently the way mlx_lm writes them (an ascending sort and cumulative sum for top-p).
#include "sampling/sampling_steps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gptoss/error.h"
#include "runtime/sampling_reference.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using sampling::Candidate;

constexpr int32_t kModelVocab = 201088;  // gpt-oss's rows
constexpr int32_t kTokenizerVocab = 200019;

std::vector<Candidate> candidates_of(const std::vector<float>& logits) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({logits[i], static_cast<int32_t>(i)});
  return c;
}

std::vector<int32_t> sorted_ids(const std::vector<Candidate>& candidates) {
  std::vector<int32_t> ids;
  for (const auto& c : candidates) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Draws `draws` tokens and compares their counts with `expected` (Pearson's chi-square over the
// tokens of non-zero probability; a token of probability zero must never come).
void expect_distribution(const std::vector<float>& logits, const SamplerOptions& options,
                         const std::vector<double>& expected, int draws = 200000) {
  Sampler sampler(options, static_cast<int32_t>(expected.size()));
  std::vector<int> counts(logits.size());
  for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits, {}))];
  test::expect_counts_follow(counts, expected, draws);
}

using test::kLogits;
using test::kVocabLogits;
using test::with;

int count_nonzero(const std::vector<double>& p) {
  return static_cast<int>(std::count_if(p.begin(), p.end(), [](double x) { return x > 0; }));
}

TEST(SamplerDistribution, Temperature) {
  for (float temperature : {1.0f, 0.7f, 2.0f}) {
    const auto options = with(temperature);
    expect_distribution(kLogits, options, test::mlx_lm_distribution(kVocabLogits, options));
  }
}

TEST(SamplerDistribution, TopP) {
  const auto options = with(1.5f, 0.75f);
  const auto expected = test::mlx_lm_distribution(kVocabLogits, options);
  EXPECT_EQ(count_nonzero(expected), 4);
  expect_distribution(kLogits, options, expected);
}

TEST(SamplerDistribution, MinP) {
  const auto options = with(0.7f, 1, 0.2f);
  const auto expected = test::mlx_lm_distribution(kVocabLogits, options);
  EXPECT_EQ(count_nonzero(expected), 5);  // logit ≥ 2 + ln 0.2 = 0.39
  expect_distribution(kLogits, options, expected);
}

TEST(SamplerDistribution, MinPKeepsMinTokensToKeep) {
  auto options = with(1.f, 1, 0.9f);
  options.min_tokens_to_keep = 3;
  const auto expected = test::mlx_lm_distribution(kVocabLogits, options);
  EXPECT_EQ(count_nonzero(expected), 3);
  expect_distribution(kLogits, options, expected);
}

TEST(SamplerDistribution, TopK) {
  const auto options = with(2.f, 1, 0, 4);
  const auto expected = test::mlx_lm_distribution(kVocabLogits, options);
  EXPECT_EQ(count_nonzero(expected), 4);
  expect_distribution(kLogits, options, expected);
}

TEST(SamplerDistribution, FiltersChainedThenTemperature) {
  // Alone, top-p keeps 7 tokens, min-p 8 and top-k 6; the temperature only shapes the draw.
  const auto options = with(1.3f, 0.93f, 0.07f, 6);
  const auto expected = test::mlx_lm_distribution(kVocabLogits, options);
  EXPECT_EQ(count_nonzero(expected), 6);
  expect_distribution(kLogits, options, expected);
}

// A token constraint's mask: the draw is over the allowed tokens only, as if the others had
// logit −∞, with the filters ranking the allowed ones.
TEST(SamplerDistribution, AllowedMaskRemovesTokensBeforeTheFilters) {
  const std::vector<uint32_t> allowed = {0b1011'0110'1101u};  // ids 0, 2, 3, 5, 6, 8, 9, 11
  std::vector<float> masked = kVocabLogits;
  for (size_t i = 0; i < masked.size(); ++i)
    if ((allowed[0] >> i & 1u) == 0) masked[i] = -1e30f;
  for (const SamplerOptions& options : {with(1.0f), with(1.3f, 0.8f), with(0.9f, 1, 0.2f), with(1.0f, 1, 0, 3)}) {
    const auto expected = test::mlx_lm_distribution(masked, options);
    sampling::Workspace w;
    std::mt19937_64 rng(7);
    std::vector<int> counts(kVocabLogits.size());
    const int draws = 100000;
    for (int i = 0; i < draws; ++i)
      ++counts[static_cast<size_t>(sampling::sample_row(options, 12, kLogits, {}, sampling::uniform(rng), w, allowed))];
    test::expect_counts_follow(counts, expected, draws);
  }
  sampling::Workspace w;
  const std::vector<uint32_t> without_best = {0b1011'0110'1100u};  // id 0, the argmax, not allowed
  EXPECT_EQ(sampling::sample_row({}, 12, kLogits, {}, 0, w, without_best), 2);  // greedy: the best allowed
  const std::vector<uint32_t> none = {0};
  EXPECT_THROW(sampling::sample_row(with(1.0f), 12, kLogits, {}, 0.5, w, none), Error);
}

TEST(Sampler, TemperatureZeroIsArgmaxWithLowestIdOnTies) {
  Sampler sampler({}, 5);
  const std::vector<float> tied = {1.f, 3.f, 0.f, 3.f, 2.f};
  EXPECT_EQ(sampler.sample(tied, {}), 1);
  const auto logits = test::random_floats(kModelVocab, 7, 3.f);
  Sampler full({}, kModelVocab);
  EXPECT_EQ(full.sample(logits, {}), std::max_element(logits.begin(), logits.end()) - logits.begin());
}

TEST(Sampler, TopKOneIsGreedy) {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const auto logits = test::random_floats(kModelVocab, seed, 2.f);
    Sampler greedy({}, kTokenizerVocab);
    auto options = with(1.5f, 1, 0, 1);
    options.seed = seed;
    Sampler top1(options, kTokenizerVocab);
    const int32_t expected = greedy.sample(logits, {});
    EXPECT_LT(expected, kTokenizerVocab);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(top1.sample(logits, {}), expected);
  }
  Sampler top1(with(1.f, 1, 0, 1), 4);
  const std::vector<float> tied = {0.f, 2.f, 2.f, 1.f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(top1.sample(tied, {}), 1);
}

TEST(Sampler, NeverChoosesIdsBeyondTheVocabulary) {
  Sampler greedy({}, 12);
  EXPECT_EQ(greedy.sample(kLogits, {}), 0);
  Sampler hot(with(100.f), 12);
  for (int i = 0; i < 10000; ++i) EXPECT_LT(hot.sample(kLogits, {}), 12);
  EXPECT_THROW(hot.sample(std::span(kLogits).first(11), {}), Error);
}

TEST(Sampler, FixedSeedReproduces) {
  const auto logits = test::random_floats(kModelVocab, 3, 1.f);
  const auto run = [&](uint64_t seed) {
    auto options = with(0.8f, 0.95f, 0.01f, 40);
    options.seed = seed;
    options.repetition_penalty = 1.1f;
    Sampler sampler(options, kTokenizerVocab);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 50; ++i) tokens.push_back(sampler.sample(logits, tokens));
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, RepetitionPenaltyChangesTheGreedyChoice) {
  auto options = with(0);
  options.repetition_penalty = 1.1f;
  Sampler sampler(options, 3);
  const std::vector<float> logits = {3.f, 2.9f, 1.f};
  EXPECT_EQ(sampler.sample(logits, {}), 0);
  const std::vector<int32_t> history = {0};
  EXPECT_EQ(sampler.sample(logits, history), 1);  // 3 / 1.1 < 2.9
  const std::vector<int32_t> outside = {7};
  EXPECT_THROW(sampler.sample(logits, outside), Error);
}

TEST(Sampler, RejectsBadOptionsAndLogits) {
  const auto bad = [](auto edit) {
    SamplerOptions o;
    edit(o);
    EXPECT_THROW(Sampler(o, 10), Error);
  };
  bad([](SamplerOptions& o) { o.temperature = -1; });
  bad([](SamplerOptions& o) { o.temperature = NAN; });
  bad([](SamplerOptions& o) { o.top_p = 1.5f; });
  bad([](SamplerOptions& o) { o.min_p = -0.1f; });
  bad([](SamplerOptions& o) { o.min_tokens_to_keep = 0; });
  bad([](SamplerOptions& o) { o.top_k = -1; });
  bad([](SamplerOptions& o) { o.repetition_penalty = -1; });
  bad([](SamplerOptions& o) { o.presence_context_size = 0; });
  bad([](SamplerOptions& o) { o.logit_bias = {{10, 1.f}}; });
  Sampler sampler({}, 3);
  const std::vector<float> nan = {0.f, NAN, 1.f};
  try {
    sampler.sample(nan, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sampler: the logit of token 1 is nan");
  }
}

TEST(LogitsProcessors, BiasThenRepetitionPresenceFrequencyOverTheirWindows) {
  const std::vector<float> logits = {2.f, -2.f, 3.f, 1.f, 0.5f, 4.f};
  // Token 2 is outside every window of 4; token 0 twice inside; 5 only in the bias.
  const std::vector<int32_t> history = {2, 0, 1, 0, 4};
  const auto processed = [&](auto edit) {
    SamplerOptions o;
    edit(o);
    std::vector<float> out = logits;
    sampling::apply_logits_processors(o, history, out);
    return out;
  };
  EXPECT_EQ(processed([](SamplerOptions& o) { o.logit_bias = {{5, -1.5f}, {2, 1.f}}; }),
            (std::vector<float>{2.f, -2.f, 4.f, 1.f, 0.5f, 2.5f}));
  EXPECT_EQ(processed([](SamplerOptions& o) {
              o.repetition_penalty = 2;
              o.repetition_context_size = 4;
            }),
            (std::vector<float>{1.f, -4.f, 3.f, 1.f, 0.25f, 4.f}));  // once per distinct token
  EXPECT_EQ(processed([](SamplerOptions& o) {
              o.presence_penalty = 0.5f;
              o.presence_context_size = 4;
            }),
            (std::vector<float>{1.5f, -2.5f, 3.f, 1.f, 0.f, 4.f}));
  EXPECT_EQ(processed([](SamplerOptions& o) {
              o.frequency_penalty = 0.5f;
              o.frequency_context_size = 4;
            }),
            (std::vector<float>{1.f, -2.5f, 3.f, 1.f, 0.f, 4.f}));  // per occurrence
  // Default windows of 20 see token 2; the bias comes first, then the penalties in mlx_lm's order.
  EXPECT_EQ(processed([](SamplerOptions& o) {
              o.logit_bias = {{2, 1.f}};
              o.repetition_penalty = 2;
              o.presence_penalty = 1;
              o.frequency_penalty = 0.25f;
            }),
            (std::vector<float>{-0.5f, -5.25f, 0.75f, 1.f, -1.f, 4.f}));
}

TEST(LogitsProcessors, EmptyHistoryOnlyBiases) {
  SamplerOptions o;
  o.repetition_penalty = 2;
  o.presence_penalty = 1;
  o.frequency_penalty = 1;
  o.logit_bias = {{1, 1.f}};
  std::vector<float> logits = {1.f, 1.f};
  sampling::apply_logits_processors(o, {}, logits);
  EXPECT_EQ(logits, (std::vector<float>{1.f, 2.f}));
}

TEST(Filters, TopPOnAFullVocabularyMatchesAFullSort) {
  // A flat distribution over 201088 tokens: the nucleus spans many ranking rounds.
  for (double top_p : {0.01, 0.5, 0.9, 0.999}) {
    const auto logits = test::random_floats(kModelVocab, 11, 1.f);
    auto candidates = candidates_of(logits);
    const double lse = sampling::log_sum_exp(candidates);
    sampling::keep_top_p(candidates, top_p, lse);

    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    double mass = 0;
    size_t keep = 0;
    while (keep < order.size() && mass < top_p) mass += std::exp(logits[static_cast<size_t>(order[keep++])] - lse);
    order.resize(keep);
    std::sort(order.begin(), order.end());
    EXPECT_EQ(sorted_ids(candidates), order) << "top_p " << top_p;
  }
}

TEST(Filters, TiesRankTheLowerIdFirst) {
  auto candidates = candidates_of({1.f, 2.f, 2.f, 2.f, 0.f});
  sampling::keep_top_k(candidates, 2);
  EXPECT_EQ(sorted_ids(candidates), (std::vector<int32_t>{1, 2}));

  candidates = candidates_of({0.f, 0.f, 0.f, 0.f});  // each a quarter
  sampling::keep_top_p(candidates, 0.6, sampling::log_sum_exp(candidates));
  EXPECT_EQ(sorted_ids(candidates), (std::vector<int32_t>{0, 1, 2}));

  candidates = candidates_of({0.f, 5.f, 0.f, 0.f});
  sampling::keep_min_p(candidates, 0.5, 2);
  EXPECT_EQ(sorted_ids(candidates), (std::vector<int32_t>{0, 1}));
}

TEST(Filters, DrawWalksTheCumulativeDistribution) {
  const auto candidates = candidates_of({std::log(1.f), std::log(2.f), std::log(1.f)});
  std::vector<double> scratch;
  EXPECT_EQ(sampling::draw(candidates, 1, 0.0, scratch), 0);
  EXPECT_EQ(sampling::draw(candidates, 1, 0.24, scratch), 0);
  EXPECT_EQ(sampling::draw(candidates, 1, 0.26, scratch), 1);
  EXPECT_EQ(sampling::draw(candidates, 1, 0.74, scratch), 1);
  EXPECT_EQ(sampling::draw(candidates, 1, 0.76, scratch), 2);
  EXPECT_EQ(sampling::draw(candidates, 1, std::nextafter(1.0, 0.0), scratch), 2);
}

TEST(LogitBias, Parses) {
  EXPECT_EQ(parse_logit_bias(""), (std::vector<std::pair<int32_t, float>>{}));
  EXPECT_EQ(parse_logit_bias("200005:-100, 12:2.5,"),
            (std::vector<std::pair<int32_t, float>>{{200005, -100.f}, {12, 2.5f}}));
  for (const char* bad : {"12", "x:1", "12:y", "-1:2", "1:inf", "1:2,1:3", "1:2,,3:4", "1:2:3",
                          "4294967296:100", "1:1e39", "2147483648:1"}) {
    EXPECT_THROW(parse_logit_bias(bad), Error) << bad;
  }
  try {
    parse_logit_bias("5:1,5:2");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "logit bias '5:2': token 5 is given twice");
  }
}

}  // namespace
}  // namespace gptoss
