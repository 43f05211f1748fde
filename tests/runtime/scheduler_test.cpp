// The step scheduler on the tiny model: many requests in one batch give what each gives alone;
// the prefix cache computes only the new suffix; a pool too small for every request queues or
// preempts them and still finishes all; cancelled requests free their blocks.
#include <gtest/gtest.h>

#include <random>

#include "gptoss/gptoss.h"
#include "runtime/kv_pool.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

constexpr KvOptions kExactKv{.precision = KvPrecision::f32};

class SchedulerTest : public ::testing::Test {
 protected:
  // f32: in bf16 a row's sums depend on how many rows share the product, and these tests compare
  // batched requests with the same requests alone.
  static void SetUpTestSuite() { model_ = Model::load(test::tiny_model_dir(), {.precision = "f32"}).release(); }
  static void TearDownTestSuite() { delete model_; }

  static std::vector<int32_t> fixture_ids(const std::string& name) {
    static const auto reference =
        test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
    return reference.at(name + ".ids").i32;
  }

  static std::vector<int32_t> random_prompt(std::mt19937& rng, int length) {
    std::uniform_int_distribution<int32_t> id(0, 199997);
    std::vector<int32_t> p(static_cast<size_t>(length));
    for (auto& t : p) t = id(rng);
    return p;
  }

  static GenerationOptions greedy(int max_tokens) {
    GenerationOptions o;
    o.max_tokens = max_tokens;
    o.logprobs = true;
    return o;
  }

  struct Output {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
  };

  static Output drain(Scheduler& s, const Scheduler::Handle& h) {
    Output out;
    while (const auto e = s.next(h)) {
      out.tokens.push_back(e->token);
      out.logprobs.push_back(e->logprob);
    }
    return out;
  }

  static Output alone(const std::vector<int32_t>& prompt, const GenerationOptions& o) {
    Scheduler s(*model_, {.max_running = 1, .context_length = 1024, .kv = kExactKv, .prefix_cache = false});
    return drain(s, s.submit(prompt, o));
  }

  static void expect_same(const Output& a, const Output& b, const std::string& what) {
    ASSERT_EQ(a.tokens, b.tokens) << what;
    for (size_t i = 0; i < a.logprobs.size(); ++i) EXPECT_NEAR(a.logprobs[i], b.logprobs[i], 1e-4) << what << " token " << i;
  }

  static Model* model_;
};

Model* SchedulerTest::model_ = nullptr;

TEST_F(SchedulerTest, SixtyFourRequestsOfRandomLengthsEqualEachAlone) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> length(1, 300);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 64; ++i) prompts.push_back(random_prompt(rng, length(rng)));
  const GenerationOptions o = greedy(6);

  // A small step budget, so that prompts are split into chunks that share steps with decodes.
  Scheduler batched(*model_, {.max_running = 64, .step_tokens = 512, .context_length = 1024, .kv = kExactKv});
  std::vector<Scheduler::Handle> handles;
  for (const auto& p : prompts) handles.push_back(batched.submit(p, o));
  while (batched.step()) {
  }
  EXPECT_GT(batched.counters().steps, 1);
  for (size_t i = 0; i < prompts.size(); ++i)
    expect_same(drain(batched, handles[i]), alone(prompts[i], o), "request " + std::to_string(i));
}

TEST_F(SchedulerTest, GreedyGenerationMatchesTheTransformersContinuation) {
  const auto reference = test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
  const std::vector<int32_t> prompt = fixture_ids("short");
  const std::vector<int32_t>& expected = reference.at("short.greedy").i32;
  Scheduler s(*model_, {.max_running = 4, .context_length = 1024, .kv = kExactKv});
  Generator g(s, greedy(static_cast<int>(expected.size())));
  g.start(prompt);
  std::vector<int32_t> got;
  while (const auto t = g.next()) got.push_back(*t);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(g.finish_reason(), FinishReason::length);
}

TEST_F(SchedulerTest, SharedPrefixIsComputedOnceAndGivesTheSameTokens) {
  std::mt19937 rng(5);
  const std::vector<int32_t> prefix = random_prompt(rng, 200);
  std::vector<int32_t> first = prefix, second = prefix;
  for (const int32_t t : random_prompt(rng, 37)) first.push_back(t);
  for (const int32_t t : random_prompt(rng, 23)) second.push_back(t);
  const GenerationOptions o = greedy(4);

  Scheduler s(*model_, {.max_running = 4, .context_length = 1024, .kv = kExactKv});
  drain(s, s.submit(first, o));
  const int64_t before = s.counters().forwarded_tokens;
  const Scheduler::Handle h = s.submit(second, o);
  const Output shared = drain(s, h);
  const int64_t forwarded = s.counters().forwarded_tokens - before;

  // Whole blocks of the prefix come from the cache: 200 tokens hold 6 blocks of 32.
  const int block = KvOptions{}.block_tokens;
  EXPECT_EQ(s.cached_prompt_tokens(h), 200 / block * block);
  EXPECT_EQ(forwarded, static_cast<int64_t>(second.size()) - s.cached_prompt_tokens(h) + o.max_tokens - 1);
  expect_same(shared, alone(second, o), "with a cached prefix");
}

TEST_F(SchedulerTest, APoolTooSmallForAllRequestsStillFinishesEveryOne) {
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 12; ++i) prompts.push_back(random_prompt(rng, 90 + 7 * i));
  const GenerationOptions o = greedy(20);
  // What the sliding layers need, and 24 blocks of the full layers: room for about four of
  // these requests (up to 187 tokens: 6 blocks each) at a time.
  const KvPoolOptions pool{
      .dtype = ElementType::f32, .memory_bytes = int64_t{1} << 30, .max_sequences = 12, .max_step_tokens = 256};
  int64_t bytes = 0;
  for (const KvGroupPlan& p : KvPool::plan(model_->config(), pool))
    bytes += (p.window > 0 ? p.blocks : 24) * p.bytes_per_block;
  Scheduler s(*model_, {.max_running = 12,
                        .step_tokens = 256,
                        .context_length = 1024,
                        .kv = {.precision = KvPrecision::f32, .memory_bytes = bytes},
                        .prefix_cache = false});
  std::vector<Scheduler::Handle> handles;
  for (const auto& p : prompts) handles.push_back(s.submit(p, o));
  std::vector<Output> outputs(prompts.size());
  int most_running = 0;
  while (s.step()) most_running = std::max(most_running, s.counters().running);
  EXPECT_LT(most_running, 12);  // the others waited (or were preempted) for blocks
  for (size_t i = 0; i < prompts.size(); ++i) {
    outputs[i] = drain(s, handles[i]);
    EXPECT_EQ(outputs[i].tokens.size(), 20u) << "request " << i;
    expect_same(outputs[i], alone(prompts[i], o), "request " + std::to_string(i));
  }
  EXPECT_EQ(s.counters().kv_blocks_used, 0);
}

TEST_F(SchedulerTest, CancelledRequestsFreeTheirBlocksAtTheNextStep) {
  std::mt19937 rng(3);
  Scheduler s(*model_, {.max_running = 4, .context_length = 1024, .kv = kExactKv, .prefix_cache = false});
  const Scheduler::Handle a = s.submit(random_prompt(rng, 100), greedy(1000));
  const Scheduler::Handle b = s.submit(random_prompt(rng, 60), greedy(3));
  ASSERT_TRUE(s.next(a));
  EXPECT_GT(s.counters().kv_blocks_used, 0);
  s.cancel(a);
  drain(s, b);
  EXPECT_FALSE(s.next(a));
  EXPECT_EQ(s.finish_reason(a), FinishReason::cancelled);
  EXPECT_EQ(s.counters().kv_blocks_used, 0);
}

// A request queued behind a full batch gets no token for many steps; next() with keep_waiting
// asks after each of them and gives up, the request unfinished, when told to.
TEST_F(SchedulerTest, WaitingForATokenCanBeAbandoned) {
  std::mt19937 rng(4);
  Scheduler s(*model_, {.max_running = 1, .context_length = 1024, .kv = kExactKv, .prefix_cache = false});
  const Scheduler::Handle running = s.submit(random_prompt(rng, 20), greedy(50));
  const Scheduler::Handle queued = s.submit(random_prompt(rng, 20), greedy(5));
  ASSERT_TRUE(s.next(running));  // the batch is full: `queued` waits
  int asked = 0;
  EXPECT_FALSE(s.next(queued, [&] { return ++asked < 5; }));
  EXPECT_EQ(asked, 5);
  EXPECT_EQ(s.finish_reason(queued), FinishReason::none);
  s.cancel(queued);
  const Output rest = drain(s, running);
  EXPECT_EQ(rest.tokens.size(), 49u);
  EXPECT_FALSE(s.next(queued));
  EXPECT_EQ(s.finish_reason(queued), FinishReason::cancelled);
  EXPECT_EQ(s.counters().kv_blocks_used, 0);
}

TEST_F(SchedulerTest, BadRequestsAreRefusedWithoutDisturbingOthers) {
  Scheduler s(*model_, {.max_running = 4, .context_length = 64, .kv = kExactKv});
  EXPECT_THROW(s.submit(std::vector<int32_t>{}, greedy(1)), Error);
  EXPECT_THROW(s.submit(std::vector<int32_t>{1, model_->config().vocab_size}, greedy(1)), Error);
  EXPECT_THROW(s.submit(std::vector<int32_t>(65, 1), greedy(1)), Error);
  GenerationOptions bad = greedy(1);
  bad.sampler.top_p = 2;
  EXPECT_THROW(s.submit(std::vector<int32_t>{1, 2}, bad), Error);
  const Scheduler::Handle ok = s.submit(std::vector<int32_t>{1, 2, 3}, greedy(70));
  const Output out = drain(s, ok);
  EXPECT_EQ(s.finish_reason(ok), FinishReason::context_full);
  EXPECT_EQ(out.tokens.size(), 62u);  // positions 3..63 computed: 61 more tokens fed after the first
}

// Allows a fixed random set of ids for `length` tokens, then nothing; records what it was told.
class RandomSetConstraint : public TokenConstraint {
 public:
  RandomSetConstraint(uint32_t seed, int length) : rng_(seed), length_(length) {}
  void allowed_tokens(std::span<uint32_t> allowed) override {
    current_.clear();
    if (static_cast<int>(accepted.size()) >= length_) return;
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(allowed.size() * 32) - 1);
    for (int i = 0; i < 5; ++i) current_.push_back(id(rng_));
    for (const int32_t t : current_) allowed[static_cast<size_t>(t) / 32] |= 1u << (t % 32);
  }
  void accept(int32_t token) override {
    EXPECT_NE(std::find(current_.begin(), current_.end(), token), current_.end()) << "token " << token;
    accepted.push_back(token);
  }
  std::vector<int32_t> accepted;

 private:
  std::mt19937 rng_;
  int length_;
  std::vector<int32_t> current_;
};

TEST_F(SchedulerTest, ConstrainedRequestsChooseOnlyAllowedTokensAndEndWhenNothingIs) {
  std::mt19937 rng(4);
  Scheduler s(*model_, {.max_running = 4, .context_length = 1024, .kv = kExactKv});
  std::vector<std::shared_ptr<RandomSetConstraint>> constraints;
  std::vector<Scheduler::Handle> handles;
  const std::vector<int32_t> plain_prompt = random_prompt(rng, 20);
  const Scheduler::Handle plain = s.submit(plain_prompt, greedy(8));  // unconstrained, in the same batch
  for (int i = 0; i < 3; ++i) {
    GenerationOptions o = greedy(100);
    o.sampler.temperature = i == 0 ? 0.0f : 1.0f;
    o.sampler.seed = i;
    constraints.push_back(std::make_shared<RandomSetConstraint>(10 + i, 6 + i));
    o.constraint = constraints.back();
    handles.push_back(s.submit(random_prompt(rng, 30 + i), o));
  }
  const Output plain_out = drain(s, plain);
  for (int i = 0; i < 3; ++i) {
    const Output out = drain(s, handles[static_cast<size_t>(i)]);
    EXPECT_EQ(out.tokens, constraints[static_cast<size_t>(i)]->accepted);
    EXPECT_EQ(out.tokens.size(), static_cast<size_t>(6 + i));
    EXPECT_EQ(s.finish_reason(handles[static_cast<size_t>(i)]), FinishReason::stop);
  }
  EXPECT_EQ(plain_out.tokens, alone(plain_prompt, greedy(8)).tokens);
  EXPECT_EQ(s.counters().kv_blocks_used, 0);
}

}  // namespace
}  // namespace gptoss
