#include "gptoss/error.h"
#include "gptoss/generate.h"
#include "gptoss/scheduler.h"

namespace gptoss {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::none: return "none";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::context_full: return "context_full";
    case FinishReason::cancelled: return "cancelled";
  }
  return "none";
}

Generator::Generator(Scheduler& scheduler, const GenerationOptions& options)
    : scheduler_(scheduler), options_(options) {
  if (options.prefill_step_size <= 0) throw Error("prefill_step_size must be positive");
}

Generator::~Generator() {
  if (request_) scheduler_.cancel(request_);
}

void Generator::start(std::span<const int32_t> prompt) {
  if (request_) scheduler_.cancel(request_);
  history_.assign(prompt.begin(), prompt.end());
  request_ = scheduler_.submit(prompt, options_);
  pending_ = scheduler_.next(request_);  // prefill and the first token, as mlx_lm's first step
}

std::optional<int32_t> Generator::next() {
  if (!request_) throw Error("generator: start() first");
  std::optional<TokenEvent> event = pending_ ? std::move(pending_) : scheduler_.next(request_);
  pending_.reset();
  if (!event) return std::nullopt;
  history_.push_back(event->token);
  last_ = std::move(*event);
  return last_.token;
}

FinishReason Generator::finish_reason() const {
  return request_ && !pending_ ? scheduler_.finish_reason(request_) : FinishReason::none;
}

GenerationStats Generator::stats() const { return request_ ? scheduler_.stats(request_) : GenerationStats{}; }

int Generator::cached_prompt_tokens() const { return request_ ? scheduler_.cached_prompt_tokens(request_) : 0; }

}  // namespace gptoss
