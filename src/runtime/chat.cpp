#include "gptoss/chat.h"

#include "gptoss/error.h"

namespace gptoss {

Chat::Chat(const Model& model, const Tokenizer& tokenizer, ChatOptions options)
    : tokenizer_(tokenizer),
      options_(std::move(options)),
      scheduler_(model, {.max_running = 1,
                         .context_length = model.config().max_position_embeddings,
                         .max_kv_size = options_.max_kv_size,
                         .kv = options_.kv,
                         .prefix_cache = true,
                         .should_stop = options_.should_stop}) {
  options_.generation.stop_tokens = harmony::stop_tokens(tokenizer);
  options_.generation.sample_vocab_size = tokenizer.vocab_size();
  reset();
}

void Chat::reset() {
  conversation_ = {harmony::Message::system(options_.system)};
  if (!options_.developer.empty()) conversation_.push_back(harmony::Message::developer({options_.developer, {}}));
}

harmony::SystemContent& Chat::system() { return std::get<harmony::SystemContent>(conversation_.front().content); }

void Chat::ask(const std::string& user_text) {
  conversation_.push_back(harmony::Message::user(user_text));
  const std::vector<int32_t> prompt = harmony::render_for_completion(tokenizer_, conversation_);
  // The whole conversation is submitted each turn: the prefix cache supplies the blocks that
  // earlier turns computed, so only what changed is computed again.
  generator_ = std::make_unique<Generator>(scheduler_, options_.generation);
  stream_ = std::make_unique<TextStream>(tokenizer_, true);
  answer_from_ = prompt.size();
  try {
    generator_->start(prompt);
  } catch (...) {
    conversation_.pop_back();
    generator_.reset();
    throw;
  }
  reused_ = generator_->cached_prompt_tokens();
}

std::optional<int32_t> Chat::next() {
  if (!generator_) throw Error("chat: ask a question first");
  return generator_->next();
}

void Chat::finish() {
  const std::vector<int32_t>& history = generator_->history();
  if (stream_->harmony() && !stream_->messages().empty()) {
    for (const harmony::Message& m : stream_->messages()) conversation_.push_back(m);
  } else {  // not harmony (the random test model): what it said, as a final answer
    conversation_.push_back(harmony::Message::assistant(
        "final", tokenizer_.decode(std::span<const int32_t>(history).subspan(answer_from_))));
  }
  generator_.reset();
}

void Chat::abandon() {
  conversation_.pop_back();
  generator_.reset();  // cancels the request; its blocks stay in the prefix cache
}

}  // namespace gptoss
