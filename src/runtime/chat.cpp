#include "gptoss/chat.h"

#include "gptoss/error.h"

namespace gptoss {

Chat::Chat(const Model& model, const Tokenizer& tokenizer, ChatOptions options)
    : tokenizer_(tokenizer),
      options_(std::move(options)),
      session_(model, {.max_sequences = 1,
                       .context_length = model.config().max_position_embeddings,
                       .max_kv_size = options_.max_kv_size,
                       .rollback = options_.rollback}) {
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
  // Keep the cached tokens the new prompt starts with; the windowed layers can go back at most
  // `rollback` tokens, beyond that the conversation is computed again.
  size_t same = 0;
  while (same < cached_.size() && same < prompt.size() && cached_[same] == prompt[same]) ++same;
  if (same == prompt.size()) --same;  // at least one token is fed, for the logits
  if (!session_.truncate(0, static_cast<int>(same))) {
    session_.reset(0);
    same = 0;
  }
  reused_ = static_cast<int>(same);
  cached_.resize(same);
  generator_ = std::make_unique<Generator>(session_, options_.generation);
  stream_ = std::make_unique<TextStream>(tokenizer_, true);
  answer_from_ = prompt.size() - same;
  generator_->start({prompt.data() + same, prompt.size() - same});
}

std::optional<int32_t> Chat::next() {
  if (!generator_) throw Error("chat: ask a question first");
  return generator_->next();
}

void Chat::finish() {
  const std::vector<int32_t>& history = generator_->history();
  cached_.insert(cached_.end(), history.begin(), history.end());
  if (stream_->harmony() && !stream_->messages().empty()) {
    for (const harmony::Message& m : stream_->messages()) conversation_.push_back(m);
  } else {  // not harmony (the random test model): what it said, as a final answer
    conversation_.push_back(harmony::Message::assistant(
        "final", tokenizer_.decode(std::span<const int32_t>(history).subspan(answer_from_))));
  }
  generator_.reset();
}

void Chat::abandon() {
  const std::vector<int32_t>& history = generator_->history();
  cached_.insert(cached_.end(), history.begin(), history.end());  // still in the session; trimmed next turn
  conversation_.pop_back();
  generator_.reset();
}

}  // namespace gptoss
