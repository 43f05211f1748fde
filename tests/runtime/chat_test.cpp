// Chat: turns reuse the KV blocks of earlier turns (the prefix cache) and give exactly what a
// fresh computation of the whole conversation gives; interrupted questions leave no trace;
// reset starts over.
#include <gtest/gtest.h>

#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

class ChatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(test::tiny_model_dir()).release();
    tokenizer_ = new Tokenizer(Tokenizer::load(test::tiny_model_dir()));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete model_;
  }
  static ChatOptions options(int max_tokens) {
    ChatOptions o;
    o.system.current_date = "2026-11-26";
    o.generation.max_tokens = max_tokens;
    o.kv.precision = KvPrecision::f32;
    return o;
  }
  static std::vector<int32_t> answer(Chat& chat, const std::string& question) {
    chat.ask(question);
    std::vector<int32_t> tokens;
    while (const auto t = chat.next()) tokens.push_back(*t);
    chat.finish();
    return tokens;
  }
  // What a fresh session generates (greedy) for the conversation rendered from scratch.
  static std::vector<int32_t> fresh_answer(const harmony::Conversation& conversation, int max_tokens) {
    Scheduler scheduler(*model_, {.max_running = 1,
                                  .context_length = 4096,
                                  .kv = {.precision = KvPrecision::f32},
                                  .prefix_cache = false});
    GenerationOptions o;
    o.max_tokens = max_tokens;
    o.stop_tokens = harmony::stop_tokens(*tokenizer_);
    o.sample_vocab_size = tokenizer_->vocab_size();
    Generator generator(scheduler, o);
    generator.start(harmony::render_for_completion(*tokenizer_, conversation));
    std::vector<int32_t> tokens;
    while (const auto t = generator.next()) tokens.push_back(*t);
    return tokens;
  }

  static Model* model_;
  static Tokenizer* tokenizer_;
};

Model* ChatTest::model_ = nullptr;
Tokenizer* ChatTest::tokenizer_ = nullptr;

TEST_F(ChatTest, LaterTurnsReuseTheCacheAndEqualAFreshComputation) {
  Chat chat(*model_, *tokenizer_, options(6));
  answer(chat, "What is 2 + 2?");
  ASSERT_EQ(chat.conversation().size(), 3u);  // system, user, assistant
  EXPECT_EQ(chat.conversation().back().role, harmony::Role::assistant);
  harmony::Conversation expected = chat.conversation();
  expected.push_back(harmony::Message::user("And 3 + 3?"));
  const std::vector<int32_t> second = answer(chat, "And 3 + 3?");
  EXPECT_GT(chat.reused_tokens(), 60);  // the system message and the first turn
  EXPECT_EQ(second, fresh_answer(expected, 6));
  EXPECT_EQ(chat.conversation().size(), 5u);
}

TEST_F(ChatTest, AnAbandonedQuestionLeavesNoTrace) {
  Chat chat(*model_, *tokenizer_, options(4));
  chat.ask("Tell me a long story.");
  chat.next();
  chat.next();
  chat.abandon();
  EXPECT_EQ(chat.conversation().size(), 1u);
  harmony::Conversation expected = chat.conversation();
  expected.push_back(harmony::Message::user("Short one?"));
  EXPECT_EQ(answer(chat, "Short one?"), fresh_answer(expected, 4));
}

TEST_F(ChatTest, ResetAndSystemChanges) {
  Chat chat(*model_, *tokenizer_, options(2));
  answer(chat, "Hi");
  chat.reset();
  EXPECT_EQ(chat.conversation().size(), 1u);
  chat.system().reasoning_effort = harmony::ReasoningEffort::high;
  harmony::Conversation expected = chat.conversation();
  expected.push_back(harmony::Message::user("Hi again"));
  EXPECT_EQ(answer(chat, "Hi again"), fresh_answer(expected, 2));
  EXPECT_NE(harmony::render_text(chat.conversation()).find("Reasoning: high"), std::string::npos);
}

// A long answer moves the sliding window far past the prompt; the blocks the next turn needs
// were released into the prefix cache, and it still reuses the conversation so far.
TEST_F(ChatTest, ALongAnswerStillLeavesItsPrefixToTheNextTurn) {
  Chat chat(*model_, *tokenizer_, options(200));
  answer(chat, "One");
  harmony::Conversation expected = chat.conversation();
  expected.push_back(harmony::Message::user("Two"));
  const std::vector<int32_t> second = answer(chat, "Two");
  EXPECT_GT(chat.reused_tokens(), 60);
  EXPECT_EQ(second, fresh_answer(expected, 200));
}

}  // namespace
}  // namespace gptoss
