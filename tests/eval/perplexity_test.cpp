// Evaluation on the tiny model: perplexity of the fixture prompts against transformers' NLLs,
// chunking and batching that leave every score unchanged, saved log-probabilities, and the KL
// divergence of a model from itself and of its quantizations from it.
#include "eval/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "convert/mlx_converter.h"
#include "eval/documents.h"
#include "eval/kl_divergence.h"
#include "eval/statistics.h"
#include "eval/token_stream.h"
#include "gptoss/error.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer_fixture.h"

namespace gptoss {
namespace {

constexpr int32_t kReturn = 200002;  // <|return|>, config.json's eos_token_id

class TinyEvaluation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(test::tiny_model_dir(), {.precision = "f32"}).release();
    const auto docs = read_documents(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw", DocumentFormat::wikitext);
    wiki_ = new std::vector<int32_t>(build_token_stream(test::gpt_oss_tokenizer(), docs, {kReturn, false, 300}));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete wiki_;
  }
  static Evaluation run(std::span<const Window> windows, EvaluationOptions options = {}) {
    return evaluate(*model_, *wiki_, windows, options);
  }

  static Model* model_;
  static std::vector<int32_t>* wiki_;  // the first 300 tokens of WikiText-2's test split
};

Model* TinyEvaluation::model_ = nullptr;
std::vector<int32_t>* TinyEvaluation::wiki_ = nullptr;

TEST_F(TinyEvaluation, FixturePromptsScoreAsTransformersDid) {
  const auto reference = test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
  const auto prompts = nlohmann::json::parse(test::read_file(test::test_data_dir() / "tiny-gpt-oss" / "reference.json"));
  for (const auto& [name, prompt] : prompts.at("prompts").items()) {
    SCOPED_TRACE(name);
    const auto documents = split_documents(prompt.at("text").get<std::string>(), DocumentFormat::text, name);
    const std::vector<int32_t> tokens = build_token_stream(test::gpt_oss_tokenizer(), documents, {std::nullopt, true, 0});
    ASSERT_EQ(tokens, reference.at(name + ".ids").i32);
    const auto n = static_cast<int64_t>(tokens.size());
    const std::vector<Window> windows = strided_windows(n, 4096, 4096);
    const Evaluation e = evaluate(*model_, tokens, windows, {});
    const std::vector<float>& nll = reference.at(name + ".nll").f32;
    ASSERT_EQ(e.nll.size(), nll.size());
    double mean = 0;
    for (size_t i = 0; i < nll.size(); ++i) {
      EXPECT_NEAR(e.nll[i], nll[i], 1e-4) << "token " << i + 1;
      mean += nll[i] / static_cast<double>(nll.size());
    }
    EXPECT_NEAR(perplexity_of(e.nll).mean / std::exp(mean), 1.0, 1e-4);
    EXPECT_EQ(e.tokens_evaluated, n - 1);
  }
}

TEST_F(TinyEvaluation, TokenStreamPutsTheSeparatorBetweenDocuments) {
  const Tokenizer& tokenizer = test::gpt_oss_tokenizer();
  const std::vector<std::string> docs = {"Hello world", "", "The quick brown fox"};
  std::vector<int32_t> expected = tokenizer.encode(docs[0], false);
  expected.push_back(kReturn);
  for (const int32_t id : tokenizer.encode(docs[2], false)) expected.push_back(id);
  EXPECT_EQ(build_token_stream(tokenizer, docs, {kReturn, false, 0}), expected);
  EXPECT_EQ(build_token_stream(tokenizer, docs, {kReturn, false, 3}), std::vector<int32_t>(expected.begin(), expected.begin() + 3));
  const std::vector<std::string> special = {"<|return|>"};
  EXPECT_EQ(build_token_stream(tokenizer, special, {std::nullopt, true, 0}), std::vector<int32_t>{kReturn});
  EXPECT_GT(build_token_stream(tokenizer, special, {std::nullopt, false, 0}).size(), 1u);
}

TEST_F(TinyEvaluation, ChunksAndBatchesDoNotChangeTheScores) {
  const std::vector<Window> windows = strided_windows(static_cast<int64_t>(wiki_->size()), 64, 24);
  const Evaluation one = run(windows);
  EXPECT_EQ(one.nll.size(), wiki_->size() - 1);
  for (const auto& [batch, per_forward] : {std::pair{3, 7}, std::pair{2, 1000}, std::pair{5, 1}}) {
    const Evaluation other = run(windows, {.batch_size = batch, .tokens_per_forward = per_forward});
    ASSERT_EQ(other.nll.size(), one.nll.size());
    for (size_t i = 0; i < one.nll.size(); ++i) EXPECT_NEAR(other.nll[i], one.nll[i], 1e-5) << i;
    EXPECT_EQ(other.tokens_evaluated, one.tokens_evaluated);
  }
  int64_t evaluated = 0;
  for (const Window& w : windows) evaluated += w.end - w.begin - 1;
  EXPECT_EQ(one.tokens_evaluated, evaluated);
}

TEST_F(TinyEvaluation, AModelComparedWithItsOwnSavedLogProbsHasNoDivergence) {
  const std::vector<Window> windows = strided_windows(static_cast<int64_t>(wiki_->size()), 64, 64);
  const Evaluation saved = run(windows, {.save_top_k = 32});
  ASSERT_EQ(saved.top.size(), scored_tokens(windows));
  const Evaluation again = run(windows, {.batch_size = 2, .tokens_per_forward = 16, .base = &saved.top});
  for (size_t i = 0; i < again.kl.size(); ++i) {
    EXPECT_NEAR(again.kl[i], 0.0, 1e-6) << i;
    EXPECT_EQ(again.same_top[i], 1) << i;
    EXPECT_NEAR(saved.top.target_log_prob[i], -again.nll[i], 1e-5);
  }
  const KlSummary s = summarize_kl(again.kl, again.same_top, again.nll, saved.top.target_log_prob);
  EXPECT_EQ(s.same_top.mean, 1.0);
  EXPECT_NEAR(s.ppl_ratio.mean, 1.0, 1e-5);
  EXPECT_LT(std::abs(s.kl.mean), 1e-6);
  // The top ids are the most probable, in order, and hold a probability below 1 together.
  for (int64_t i = 0; i < saved.top.size(); ++i) {
    double mass = std::exp(saved.top.rest_log_prob[static_cast<size_t>(i)]);
    for (int k = 0; k < 32; ++k) {
      const auto at = static_cast<size_t>(i * 32 + k);
      mass += std::exp(saved.top.top_log_probs[at]);
      if (k > 0) {
        EXPECT_LE(saved.top.top_log_probs[at], saved.top.top_log_probs[at - 1]);
      }
    }
    EXPECT_NEAR(mass, 1.0, 1e-5);
  }
}

TEST_F(TinyEvaluation, SavedLogProbsRoundTripAndAreChecked) {
  const std::vector<Window> windows = strided_windows(static_cast<int64_t>(wiki_->size()), 32, 32);
  const Evaluation e = run(windows, {.save_top_k = 4});
  const EvaluationIdentity identity{201088, evaluation_fingerprint(*wiki_, windows), "windows of 32, stride 32"};
  test::TempDir dir;
  save_top_log_probs(dir / "base.safetensors", e.top, identity);
  EXPECT_FALSE(std::filesystem::exists(dir / "base.safetensors.partial"));
  const TopLogProbs loaded = load_top_log_probs(dir / "base.safetensors", identity);
  EXPECT_EQ(loaded.top_k, 4);
  EXPECT_EQ(loaded.target, e.top.target);
  EXPECT_EQ(loaded.top_ids, e.top.top_ids);
  EXPECT_EQ(loaded.top_log_probs, e.top.top_log_probs);
  EXPECT_EQ(loaded.rest_log_prob, e.top.rest_log_prob);
  EXPECT_EQ(loaded.target_log_prob, e.top.target_log_prob);
  const auto expect_error = [&](const std::filesystem::path& file, const EvaluationIdentity& id, const std::string& needle) {
    try {
      load_top_log_probs(file, id);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find(file.string()), std::string::npos) << error.what();
    }
  };
  expect_error(dir / "base.safetensors", {201088, identity.fingerprint + 1, "windows of 64, stride 64"},
               "windows of 32, stride 32");
  expect_error(dir / "base.safetensors", {1000, identity.fingerprint, identity.protocol}, "201088 logits");
  TopLogProbs bad = e.top;
  bad.top_ids[5] = 201088;
  save_top_log_probs(dir / "bad.safetensors", bad, identity);
  expect_error(dir / "bad.safetensors", identity, "id 201088");
  test::reshape_tensor(dir / "base.safetensors", "rest_log_prob", {3});
  expect_error(dir / "base.safetensors", identity, "rest_log_prob");
  // A base of another length cannot be compared.
  TopLogProbs shorter = e.top;
  shorter.target.pop_back();
  EXPECT_THROW(run(windows, {.base = &shorter}), Error);
}

TEST_F(TinyEvaluation, EightBitDriftsLessThanFourBit) {
  const std::vector<Window> windows = strided_windows(static_cast<int64_t>(wiki_->size()), 100, 100);
  const Evaluation original = run(windows, {.save_top_k = 32});
  test::TempDir dir;
  std::map<int, KlSummary> drift;
  for (const int bits : {8, 4}) {
    ConvertOptions options;
    options.quantize = true;
    options.bits = bits;
    options.group_size = 32;
    convert_to_mlx(test::tiny_model_dir(), dir / std::to_string(bits), options);
    const auto quantized = Model::load(dir / std::to_string(bits));
    const Evaluation e = evaluate(*quantized, *wiki_, windows, {.base = &original.top});
    drift[bits] = summarize_kl(e.kl, e.same_top, e.nll, original.top.target_log_prob);
    std::printf("q%d gs32: KL mean %.3e, median %.3e, max %.3e; same top-1 %.3f; PPL %.1f vs %.1f\n", bits,
                drift[bits].kl.mean, drift[bits].kl_median, drift[bits].kl_max, drift[bits].same_top.mean,
                drift[bits].ppl.mean, drift[bits].base_ppl.mean);
  }
  EXPECT_GT(drift[8].kl.mean, 0.0);
  EXPECT_LT(drift[8].kl.mean, drift[4].kl.mean);
  EXPECT_LT(drift[8].kl_median, drift[4].kl_median);
  EXPECT_GE(drift[8].same_top.mean, drift[4].same_top.mean);
}

}  // namespace
}  // namespace gptoss
