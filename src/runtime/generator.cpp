#include <algorithm>
#include <chrono>

#include "gptoss/error.h"
#include "gptoss/generate.h"

namespace gptoss {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::none: return "none";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::context_full: return "context_full";
  }
  return "none";
}

Generator::Generator(Session& session, const GenerationOptions& options, int sequence)
    : session_(session),
      options_(options),
      sequence_(sequence),
      sampler_(options.sampler, options.sample_vocab_size > 0 ? options.sample_vocab_size
                                                             : session.model().config().vocab_size) {
  if (options.prefill_step_size <= 0) throw Error("prefill_step_size must be positive");
}

void Generator::start(std::span<const int32_t> prompt) {
  if (prompt.empty()) throw Error("the prompt is empty");
  history_.assign(prompt.begin(), prompt.end());
  penalty_from_ = prompt.size() - 1;
  stats_ = GenerationStats{};
  stats_.prompt_tokens = static_cast<int>(prompt.size());
  finish_ = FinishReason::none;
  start_time_ = now_seconds();
  // The prompt in steps of prefill_step_size; only the last step's last position is sampled.
  Logits logits;
  for (size_t at = 0; at < prompt.size(); at += static_cast<size_t>(options_.prefill_step_size)) {
    const size_t n = std::min(prompt.size() - at, static_cast<size_t>(options_.prefill_step_size));
    const bool last = at + n == prompt.size();
    const SequenceInput input{sequence_, prompt.subspan(at, n), last ? LogitsWanted::last : LogitsWanted::none};
    logits = session_.forward({&input, 1});
  }
  pending_ = options_.max_tokens > 0 ? sample_from(logits) : std::nullopt;
  if (!pending_ && finish_ == FinishReason::none) finish_ = FinishReason::length;
  first_token_time_ = now_seconds();
  stats_.time_to_first_token = first_token_time_ - start_time_;
}

std::optional<int32_t> Generator::sample_from(const Logits& logits) {
  const int32_t token = sampler_.sample({logits.row(0), static_cast<size_t>(logits.vocab)},
                                       std::span<const int32_t>(history_).subspan(penalty_from_));
  history_.push_back(token);
  ++stats_.generation_tokens;
  return token;
}

std::optional<int32_t> Generator::next() {
  if (pending_) {
    const int32_t token = *pending_;
    pending_.reset();
    if (std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), token) != options_.stop_tokens.end())
      finish_ = FinishReason::stop;
    else if (stats_.generation_tokens >= options_.max_tokens)
      finish_ = FinishReason::length;
    return token;
  }
  if (finish_ != FinishReason::none) return std::nullopt;
  if (session_.position(sequence_) >= session_.context_length() && session_.max_kv_size() == 0) {
    finish_ = FinishReason::context_full;
    return std::nullopt;
  }
  const SequenceInput input{sequence_, {&history_.back(), 1}, LogitsWanted::last};
  pending_ = sample_from(session_.forward({&input, 1}));
  stats_.generation_seconds = now_seconds() - first_token_time_;
  return next();
}

}  // namespace gptoss
