// One model shared by many threads: 8 threads × 2 Sessions each, mixing prefill and decode,
// each giving exactly what it gives alone; and schedulers stepped from several threads at once.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

class ConcurrencyTest : public ::testing::Test {
 protected:
  // f32: batch-invariant (in bf16 a row's sums depend on how many rows share the product).
  static void SetUpTestSuite() { model_ = Model::load(test::tiny_model_dir(), {.threads = 2, .precision = "f32"}).release(); }
  static void TearDownTestSuite() { delete model_; }
  static Model* model_;
};

Model* ConcurrencyTest::model_ = nullptr;

// A session's work: a prompt in chunks of `chunk`, then greedy decoding; the last row of every
// forward call is recorded.
struct Script {
  std::vector<int32_t> prompt;
  size_t chunk;
  int decode_steps;
};

struct Trace {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> rows;
};

Trace play(const Model& model, const Script& script) {
  Session session(model, {.max_sequences = 1, .context_length = 512, .kv = {.precision = KvPrecision::f32}});
  Trace trace;
  Logits logits;
  for (size_t at = 0; at < script.prompt.size(); at += script.chunk) {
    const size_t n = std::min(script.chunk, script.prompt.size() - at);
    const SequenceInput input{0, {script.prompt.data() + at, n}, LogitsWanted::last};
    logits = session.forward({&input, 1});
    trace.rows.emplace_back(logits.row(0), logits.row(0) + logits.vocab);
  }
  for (int i = 0; i < script.decode_steps; ++i) {
    const float* row = logits.row(0);
    const auto next = static_cast<int32_t>(std::max_element(row, row + logits.vocab) - row);
    trace.tokens.push_back(next);
    const SequenceInput step{0, {&next, 1}, LogitsWanted::last};
    logits = session.forward({&step, 1});
    trace.rows.emplace_back(logits.row(0), logits.row(0) + logits.vocab);
  }
  return trace;
}

TEST_F(ConcurrencyTest, SixteenSessionsOnEightThreadsEqualEachAlone) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int32_t> id(0, 199997);
  std::vector<Script> scripts;
  for (int i = 0; i < 16; ++i) {
    Script s{{}, static_cast<size_t>(1 + i * 7 % 40), 6 + i % 5};
    s.prompt.resize(static_cast<size_t>(20 + 11 * i));
    for (auto& t : s.prompt) t = id(rng);
    scripts.push_back(s);
  }
  std::vector<Trace> expected;
  for (const Script& s : scripts) expected.push_back(play(*model_, s));

  std::vector<Trace> got(scripts.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      // Two sessions per thread, interleaved step by step by running them in turn.
      for (int k = 0; k < 2; ++k) got[static_cast<size_t>(2 * t + k)] = play(*model_, scripts[static_cast<size_t>(2 * t + k)]);
    });
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < scripts.size(); ++i) {
    EXPECT_EQ(got[i].tokens, expected[i].tokens) << "session " << i;
    ASSERT_EQ(got[i].rows.size(), expected[i].rows.size());
    for (size_t r = 0; r < got[i].rows.size(); ++r)
      EXPECT_LE(test::relative_l2(got[i].rows[r].data(), expected[i].rows[r].data(), got[i].rows[r].size()), 1e-5)
          << "session " << i << " call " << r;
  }
}

TEST_F(ConcurrencyTest, ThreadsWaitingOnOneSchedulerBatchTogetherAndEqualEachAlone) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> id(0, 199997);
  std::vector<std::vector<int32_t>> prompts(8);
  for (size_t i = 0; i < prompts.size(); ++i) {
    prompts[i].resize(30 + 9 * i);
    for (auto& t : prompts[i]) t = id(rng);
  }
  GenerationOptions o;
  o.max_tokens = 12;
  const auto run = [&](Scheduler& s, const std::vector<int32_t>& prompt) {
    Generator g(s, o);
    g.start(prompt);
    std::vector<int32_t> out;
    while (const auto t = g.next()) out.push_back(*t);
    return out;
  };
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : prompts) {
    Scheduler alone(*model_, {.max_running = 1, .context_length = 512, .kv = {.precision = KvPrecision::f32}});
    expected.push_back(run(alone, p));
  }
  Scheduler shared(*model_, {.max_running = 8, .context_length = 512, .kv = {.precision = KvPrecision::f32}});
  std::vector<std::vector<int32_t>> got(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) threads.emplace_back([&, i] { got[i] = run(shared, prompts[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "request " << i;
  // Eight requests of 12 tokens each took fewer steps than 96: they shared steps.
  EXPECT_LT(shared.counters().steps, 96);
}

}  // namespace
}  // namespace gptoss
