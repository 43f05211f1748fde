// The tiny model against what Hugging Face transformers 5.17 computed on the same files in
// float32 (tests/data/tiny-gpt-oss, see tests/data/README.fixtures.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using test::HostTensor;

struct HiddenCapture : HiddenStateObserver {
  std::vector<std::vector<float>> states;
  void on_hidden_state(int index, int64_t rows, int64_t hidden, const float* values) override {
    states.resize(static_cast<size_t>(index) + 1);
    states[static_cast<size_t>(index)].assign(values, values + rows * hidden);
  }
};

class ReferenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    // f32: the fixtures are float32 and checked to 1e-4; the default precision has its own test.
    if (!test::device_available(test::test_device())) return;
    model_ = Model::load(test::tiny_model_dir(), {.device = test::test_device(), .precision = "f32"}).release();
    reference_ = new std::map<std::string, HostTensor>(
        test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete reference_;
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "device " << test::test_device() << " is not available on this machine";
  }
  const HostTensor& ref(const std::string& what) const { return reference_->at(GetParam() + "." + what); }
  std::vector<int32_t> ids() const { return ref("ids").i32; }

  static Model* model_;
  static std::map<std::string, HostTensor>* reference_;
};

Model* ReferenceTest::model_ = nullptr;
std::map<std::string, HostTensor>* ReferenceTest::reference_ = nullptr;

std::vector<int32_t> top_ids(const float* logits, int64_t vocab, int k) {
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ids.resize(static_cast<size_t>(k));
  return ids;
}

TEST_P(ReferenceTest, LogitsTopKAndHiddenStatesMatchTransformers) {
  const std::vector<int32_t> tokens = ids();
  const auto t = static_cast<int64_t>(tokens.size());
  Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(t), .kv = {.precision = KvPrecision::f32}});
  HiddenCapture hidden;
  const SequenceInput input{0, tokens, LogitsWanted::all};
  const Logits logits = session.forward({&input, 1}, &hidden);
  ASSERT_EQ(logits.rows, t);
  const int64_t vocab = logits.vocab;

  const double first_err = test::relative_l2(logits.row(0), ref("logits_first").f32.data(), static_cast<size_t>(vocab));
  const double last_err = test::relative_l2(logits.row(t - 1), ref("logits_last").f32.data(), static_cast<size_t>(vocab));
  EXPECT_LE(first_err, 1e-4);
  EXPECT_LE(last_err, 1e-4);
  RecordProperty("logits_first_rel_l2", std::to_string(first_err));
  RecordProperty("logits_last_rel_l2", std::to_string(last_err));
  std::printf("[%s] logits relative L2: first %.3g, last %.3g\n", GetParam().c_str(), first_err, last_err);

  const auto& topk = ref("topk_ids").i32;
  for (int64_t p = 0; p < t; ++p) {
    const std::vector<int32_t> mine = top_ids(logits.row(p), vocab, 8);
    const std::vector<int32_t> theirs(topk.begin() + p * 8, topk.begin() + p * 8 + 8);
    EXPECT_EQ(mine, theirs) << "position " << p;
  }

  // transformers' hidden_states: [0] embeddings, [l] output of layer l, and for the last layer
  // the output after the final norm; the observer reports that one as index L + 1.
  const auto& reference_hidden = ref("hidden");
  const int64_t layers = reference_hidden.shape[0] - 1, h = reference_hidden.shape[2];
  ASSERT_EQ(static_cast<int64_t>(hidden.states.size()), layers + 2);
  double worst = 0;
  for (int64_t l = 0; l <= layers; ++l) {
    const auto& mine = hidden.states[static_cast<size_t>(l == layers ? layers + 1 : l)];
    const double err = test::relative_l2(mine.data(), reference_hidden.f32.data() + l * t * h, static_cast<size_t>(t * h));
    EXPECT_LE(err, 1e-4) << "hidden state " << l;
    worst = std::max(worst, err);
  }
  std::printf("[%s] hidden states: worst relative L2 %.3g over %lld entries\n", GetParam().c_str(), worst,
              static_cast<long long>(layers + 1));

  const auto& nll = ref("nll").f32;
  double worst_nll = 0;
  for (int64_t p = 0; p + 1 < t; ++p) {
    const float* row = logits.row(p);
    const float max = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - max);
    const double mine = max + std::log(sum) - row[tokens[static_cast<size_t>(p + 1)]];
    EXPECT_NEAR(mine, nll[static_cast<size_t>(p)], 1e-3) << "position " << p;
    worst_nll = std::max(worst_nll, std::abs(mine - nll[static_cast<size_t>(p)]));
  }
  std::printf("[%s] NLL: worst absolute difference %.3g\n", GetParam().c_str(), worst_nll);
}

TEST_P(ReferenceTest, GreedyContinuationWithKvCacheMatchesTransformers) {
  std::vector<int32_t> tokens = ids();
  const auto& expected = ref("greedy").i32;
  Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size() + expected.size()), .kv = {.precision = KvPrecision::f32}});
  std::vector<int32_t> generated;
  std::vector<int32_t> next = tokens;
  for (size_t i = 0; i < expected.size(); ++i) {
    const SequenceInput input{0, next, LogitsWanted::last};
    const Logits logits = session.forward({&input, 1});
    const float* row = logits.row(0);
    const auto id = static_cast<int32_t>(std::max_element(row, row + logits.vocab) - row);
    generated.push_back(id);
    next = {id};
  }
  EXPECT_EQ(generated, expected);
}

// What a user gets by default (bf16 prefill where the CPU has a bf16 product) lands within the
// distance transformers' own bfloat16 run lands from its float32 one (reference.json).
TEST_P(ReferenceTest, DefaultPrecisionStaysWithinTheBf16NoiseFloor) {
  const auto fixture = nlohmann::json::parse(test::read_file(test::test_data_dir() / "tiny-gpt-oss" / "reference.json"));
  const double noise_floor = fixture.at("prompts").at(GetParam()).at("bf16_vs_fp32_rel_err").get<double>();
  ASSERT_GT(noise_floor, 0);

  const auto model = Model::load(test::tiny_model_dir(), {.device = test::test_device()});
  const std::vector<int32_t> tokens = ids();
  Session session(*model, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size())});
  const SequenceInput input{0, tokens, LogitsWanted::last};
  const Logits logits = session.forward({&input, 1});
  const double err = test::relative_l2(logits.row(0), ref("logits_last").f32.data(), static_cast<size_t>(logits.vocab));
  EXPECT_LE(err, noise_floor);
  std::printf("[%s] default precision: last logits relative L2 %.3g (bf16 noise floor %.3g)\n", GetParam().c_str(), err,
              noise_floor);
}

// The same through decode's kernels (bf16 inputs where the CPU has AVX512-BF16): the prompt fed
// one token at a time.
TEST_P(ReferenceTest, DefaultPrecisionDecodeStaysWithinTheBf16NoiseFloor) {
  const auto fixture = nlohmann::json::parse(test::read_file(test::test_data_dir() / "tiny-gpt-oss" / "reference.json"));
  const double noise_floor = fixture.at("prompts").at(GetParam()).at("bf16_vs_fp32_rel_err").get<double>();
  const auto model = Model::load(test::tiny_model_dir(), {.device = test::test_device()});
  const std::vector<int32_t> tokens = ids();
  Session session(*model, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size())});
  Logits logits;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const SequenceInput input{0, std::span(tokens).subspan(i, 1), LogitsWanted::last};
    logits = session.forward({&input, 1});
  }
  const double err = test::relative_l2(logits.row(0), ref("logits_last").f32.data(), static_cast<size_t>(logits.vocab));
  EXPECT_LE(err, noise_floor);
  std::printf("[%s] default precision, one token at a time: last logits relative L2 %.3g (bf16 noise floor %.3g)\n",
              GetParam().c_str(), err, noise_floor);
}

INSTANTIATE_TEST_SUITE_P(TinyGptOss, ReferenceTest, ::testing::Values("short", "long", "romanian", "harmony"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace gptoss
