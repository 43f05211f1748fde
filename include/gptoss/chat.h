// A multi-turn conversation with a model: the history kept in harmony form (a finished answer's
// chain of thought is dropped, as harmony renders it) and the KV blocks of earlier turns reused
// through the prefix cache, so that each turn computes only what changed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gptoss/generate.h"
#include "gptoss/harmony.h"
#include "gptoss/text_stream.h"

namespace gptoss {

struct ChatOptions {
  harmony::SystemContent system;  // identity, date, reasoning effort
  std::string developer;          // developer instructions; empty: no developer message
  GenerationOptions generation;   // stop tokens are harmony's
  int max_kv_size = 0;            // see SessionOptions::max_kv_size
  KvOptions kv;
  std::function<bool()> should_stop;  // see SchedulerOptions::should_stop
};

class Chat {
 public:
  Chat(const Model& model, const Tokenizer& tokenizer, ChatOptions options);

  // Adds the user's message and prepares the answer: the prompt is rendered and what the cache
  // does not hold yet is computed. Then next() gives the answer's tokens and text() their text.
  void ask(const std::string& user_text);
  std::optional<int32_t> next();
  TextStream::Delta text(int32_t token) { return stream_->feed(token); }
  TextStream::Delta finish_text() { return stream_->finish(); }  // the answer's last text
  FinishReason finish_reason() const { return generator_ ? generator_->finish_reason() : FinishReason::none; }
  GenerationStats stats() const { return generator_->stats(); }
  // Keeps the answer in the history (its harmony messages; plain text as a final answer when the
  // model did not speak harmony). Call after next() returned nothing, or to keep a partial answer.
  void finish();
  // Forgets the question and its unfinished answer (Ctrl-C).
  void abandon();

  void reset();  // the conversation starts over (system and developer messages stay)
  harmony::SystemContent& system();  // changes apply from the next question
  const harmony::Conversation& conversation() const { return conversation_; }
  int reused_tokens() const { return reused_; }  // cached tokens the latest question did not recompute
  const Scheduler& scheduler() const { return scheduler_; }

 private:
  const Tokenizer& tokenizer_;
  ChatOptions options_;
  Scheduler scheduler_;
  harmony::Conversation conversation_;
  size_t answer_from_ = 0;  // where the latest answer starts in the generator's history
  std::unique_ptr<Generator> generator_;
  std::unique_ptr<TextStream> stream_;
  int reused_ = 0;
};

}  // namespace gptoss
