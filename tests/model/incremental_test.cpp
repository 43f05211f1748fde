// The KV cache and batching: decoding token by token, or several sequences at once, gives the
// logits of one full pass.
#include <gtest/gtest.h>

#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

class IncrementalTest : public ::testing::Test {
 protected:
  // f32: a long input rounded to bf16 (the default prefill) is not the token-by-token float32 sum.
  static void SetUpTestSuite() {
    if (!test::device_available(test::test_device())) return;
    model_ = Model::load(test::tiny_model_dir(), {.device = test::test_device(), .precision = "f32"}).release();
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "device " << test::test_device() << " is not available on this machine";
  }
  static void TearDownTestSuite() { delete model_; }

  // A prompt of `n` ids from the tiny model's fixtures, longer than its 16-token window.
  static std::vector<int32_t> prompt(const std::string& name) {
    static const auto reference =
        test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
    return reference.at(name + ".ids").i32;
  }

  static Logits full_pass(const std::vector<int32_t>& tokens) {
    Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size()), .kv = {.precision = KvPrecision::f32}});
    const SequenceInput input{0, tokens, LogitsWanted::all};
    return session.forward({&input, 1});
  }

  static Model* model_;
};

Model* IncrementalTest::model_ = nullptr;

TEST_F(IncrementalTest, PrefillThenOneTokenAtATimeEqualsFullPass) {
  for (const std::string name : {"long", "harmony"}) {
    const std::vector<int32_t> tokens = prompt(name);
    ASSERT_GT(tokens.size(), static_cast<size_t>(model_->config().sliding_window) * 2);
    const Logits full = full_pass(tokens);
    for (size_t prefill : {size_t{1}, size_t{5}, size_t{16}, size_t{17}, tokens.size() - 1}) {
      Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size()), .kv = {.precision = KvPrecision::f32}});
      std::vector<int32_t> first(tokens.begin(), tokens.begin() + static_cast<ptrdiff_t>(prefill));
      SequenceInput input{0, first, LogitsWanted::all};
      const Logits head = session.forward({&input, 1});
      for (size_t p = 0; p < prefill; ++p)
        EXPECT_LE(test::relative_l2(head.row(static_cast<int64_t>(p)), full.row(static_cast<int64_t>(p)),
                                    static_cast<size_t>(full.vocab)), 1e-5)
            << name << " prefill " << prefill << " position " << p;
      for (size_t p = prefill; p < tokens.size(); ++p) {
        const SequenceInput step{0, {&tokens[p], 1}, LogitsWanted::last};
        const Logits one = session.forward({&step, 1});
        EXPECT_LE(test::relative_l2(one.row(0), full.row(static_cast<int64_t>(p)), static_cast<size_t>(full.vocab)), 1e-5)
            << name << " prefill " << prefill << " position " << p;
      }
      EXPECT_EQ(session.position(0), static_cast<int>(tokens.size()));
    }
  }
}

TEST_F(IncrementalTest, ChunkedPrefillLargerThanTheWindowEqualsFullPass) {
  const std::vector<int32_t> tokens = prompt("harmony");
  const Logits full = full_pass(tokens);
  Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size()), .kv = {.precision = KvPrecision::f32}});
  for (size_t start = 0; start < tokens.size(); start += 20) {
    const size_t n = std::min<size_t>(20, tokens.size() - start);
    const SequenceInput input{0, {tokens.data() + start, n}, LogitsWanted::all};
    const Logits chunk = session.forward({&input, 1});
    for (size_t i = 0; i < n; ++i)
      EXPECT_LE(test::relative_l2(chunk.row(static_cast<int64_t>(i)), full.row(static_cast<int64_t>(start + i)),
                                  static_cast<size_t>(full.vocab)), 1e-5)
          << "position " << start + i;
  }
}

TEST_F(IncrementalTest, BatchOfThreePromptsEqualsEachAlone) {
  const std::vector<std::vector<int32_t>> prompts = {prompt("long"), prompt("short"), prompt("romanian")};
  Session session(*model_, {.max_sequences = 3, .context_length = 64, .kv = {.precision = KvPrecision::f32}});
  std::vector<SequenceInput> inputs;
  // Slots in a different order than the inputs, to catch slot/row mix-ups.
  const int slots[3] = {2, 0, 1};
  for (size_t i = 0; i < 3; ++i) inputs.push_back({slots[i], prompts[i], LogitsWanted::all});
  const Logits batched = session.forward(inputs);
  int64_t row = 0;
  for (size_t i = 0; i < 3; ++i) {
    const Logits alone = full_pass(prompts[i]);
    for (int64_t p = 0; p < alone.rows; ++p, ++row)
      EXPECT_LE(test::relative_l2(batched.row(row), alone.row(p), static_cast<size_t>(alone.vocab)), 1e-5)
          << "prompt " << i << " position " << p;
  }
  // Then one decode step for all three at once, against each sequence extended alone.
  const int32_t next[3] = {1000, 2000, 3000};
  std::vector<SequenceInput> step;
  for (size_t i = 0; i < 3; ++i) step.push_back({slots[i], {&next[i], 1}, LogitsWanted::last});
  const Logits decoded = session.forward(step);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<int32_t> extended = prompts[i];
    extended.push_back(next[i]);
    const Logits alone = full_pass(extended);
    EXPECT_LE(test::relative_l2(decoded.row(static_cast<int64_t>(i)), alone.row(alone.rows - 1),
                                static_cast<size_t>(alone.vocab)), 1e-5)
        << "prompt " << i;
  }
}

TEST_F(IncrementalTest, FullLayerCacheGrowsPastItsInitialCapacity) {
  std::vector<int32_t> tokens(600);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7919 + 13) % 200000);
  const auto last_logits = [&](size_t n) {
    Session session(*model_, {.max_sequences = 1, .context_length = static_cast<int>(n), .kv = {.precision = KvPrecision::f32}});
    const SequenceInput input{0, {tokens.data(), n}, LogitsWanted::last};
    return session.forward({&input, 1});
  };
  // 250 at once, then single steps across the first doubling (256), then one chunk across the next.
  Session session(*model_, {.max_sequences = 2, .context_length = 2000, .kv = {.precision = KvPrecision::f32}});
  SequenceInput input{1, {tokens.data(), 250}, LogitsWanted::none};
  session.forward({&input, 1});
  Logits step;
  for (size_t p = 250; p < 300; ++p) {
    input = {1, {&tokens[p], 1}, LogitsWanted::last};
    step = session.forward({&input, 1});
  }
  EXPECT_LE(test::relative_l2(step.row(0), last_logits(300).row(0), static_cast<size_t>(step.vocab)), 1e-5);
  input = {1, {tokens.data() + 300, 300}, LogitsWanted::last};
  const Logits end = session.forward({&input, 1});
  EXPECT_LE(test::relative_l2(end.row(0), last_logits(600).row(0), static_cast<size_t>(end.vocab)), 1e-5);
}

TEST_F(IncrementalTest, MaxKvSizeWindowsTheFullLayersAndRunsPastTheContext) {
  std::vector<int32_t> tokens(90);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 104729 + 7) % 200000);
  // All at once (the full layers see a 24-key window inside one chunk) …
  Session whole(*model_, {.max_sequences = 1, .context_length = 32, .max_kv_size = 24, .kv = {.precision = KvPrecision::f32}});
  const SequenceInput all{0, tokens, LogitsWanted::all};
  const Logits expected = whole.forward({&all, 1});
  // … equals feeding it in pieces through the 24-slot rings, well past the 32-token context.
  Session pieces(*model_, {.max_sequences = 1, .context_length = 32, .max_kv_size = 24, .kv = {.precision = KvPrecision::f32}});
  size_t at = 0;
  for (size_t n : {size_t{30}, size_t{1}, size_t{1}, size_t{25}, size_t{33}}) {
    const SequenceInput in{0, {tokens.data() + at, n}, LogitsWanted::all};
    const Logits got = pieces.forward({&in, 1});
    for (size_t i = 0; i < n; ++i)
      EXPECT_LE(test::relative_l2(got.row(static_cast<int64_t>(i)), expected.row(static_cast<int64_t>(at + i)),
                                  static_cast<size_t>(got.vocab)), 1e-5)
          << "position " << at + i;
    at += n;
  }
  // Without max_kv_size the same session would have stopped at 32 tokens.
  Session bounded(*model_, {.max_sequences = 1, .context_length = 32, .kv = {.precision = KvPrecision::f32}});
  EXPECT_THROW(bounded.forward({&all, 1}), Error);
  // Windowing the full layers changes the result once the window is exceeded.
  const Logits unbounded = full_pass(tokens);
  EXPECT_GT(test::relative_l2(expected.row(89), unbounded.row(89), static_cast<size_t>(unbounded.vocab)), 1e-3);
  EXPECT_LE(test::relative_l2(expected.row(20), unbounded.row(20), static_cast<size_t>(unbounded.vocab)), 1e-5);
}

// The sliding layers keep the blocks of their window plus `rollback` positions; a truncation
// needs the window before its position.
TEST_F(IncrementalTest, TruncateGoesBackWithinTheRollback) {
  std::vector<int32_t> tokens(100);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(1000 + 37 * i % 5000);
  std::vector<int32_t> branch(tokens.begin(), tokens.begin() + 90);
  branch.insert(branch.end(), {11, 22, 33, 44});
  const Logits expected = full_pass(branch);
  Session session(*model_, {.max_sequences = 1, .context_length = 128, .rollback = 8,
                            .kv = {.precision = KvPrecision::f32}});
  const SequenceInput in{0, tokens, LogitsWanted::none};
  session.forward({&in, 1});
  // Kept: positions ≥ 100 − 16 + 1 − 8 = 77, in whole blocks of 32: from 64 on.
  EXPECT_FALSE(session.truncate(0, 60));  // its window [45, 60) is gone
  EXPECT_EQ(session.position(0), 100);
  ASSERT_TRUE(session.truncate(0, 90));   // its window [75, 90) is kept
  const SequenceInput rest{0, {branch.data() + 90, 4}, LogitsWanted::all};
  const Logits got = session.forward({&rest, 1});
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_LE(test::relative_l2(got.row(i), expected.row(90 + i), static_cast<size_t>(got.vocab)), 1e-5) << i;
  EXPECT_TRUE(session.truncate(0, 0));
  EXPECT_THROW(session.truncate(0, 5), Error);
}

TEST_F(IncrementalTest, ResetStartsTheSequenceOver) {
  const std::vector<int32_t> tokens = prompt("short");
  Session session(*model_, {.max_sequences = 1, .context_length = 8, .kv = {.precision = KvPrecision::f32}});
  const SequenceInput input{0, tokens, LogitsWanted::last};
  const Logits first = session.forward({&input, 1});
  session.reset(0);
  EXPECT_EQ(session.position(0), 0);
  const Logits again = session.forward({&input, 1});
  EXPECT_EQ(first.values, again.values);
}

}  // namespace
}  // namespace gptoss
