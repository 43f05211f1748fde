#include "generation.h"

#include "gptoss/error.h"
#include "runtime/peak_memory.h"

namespace gptoss::python {

namespace {

bool ends_with_assistant_start(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt) {
  const auto start = tokenizer.special_token("<|start|>");
  const std::vector<int32_t> assistant = tokenizer.encode("assistant", false);
  if (!start || prompt.size() < assistant.size() + 1) return false;
  return prompt[prompt.size() - assistant.size() - 1] == *start &&
         std::equal(assistant.begin(), assistant.end(), prompt.end() - static_cast<ptrdiff_t>(assistant.size()));
}

}  // namespace

Generation::Generation(std::shared_ptr<Scheduler> scheduler, const Tokenizer& tokenizer, std::vector<int32_t> prompt,
                       const GenerationOptions& options)
    : tokenizer_(tokenizer),
      prompt_(std::move(prompt)),
      harmony_(ends_with_assistant_start(tokenizer, prompt_)),
      scheduler_(std::move(scheduler)) {
  GenerationOptions o = options;
  o.sample_vocab_size = tokenizer.vocab_size();
  if (o.stop_tokens.empty())
    o.stop_tokens = harmony_ ? harmony::stop_tokens(tokenizer) : eos_token_ids(scheduler_->model());
  generator_ = std::make_unique<Generator>(*scheduler_, o);
  stream_ = std::make_unique<TextStream>(tokenizer, harmony_);
}

std::optional<GenerationResponse> Generation::next() {
  if (done_) return std::nullopt;
  if (!started_) {
    generator_->start(prompt_);
    started_ = true;
  }
  const auto token = generator_->next();
  if (!token) {
    done_ = true;
    return std::nullopt;
  }
  const TextStream::Delta delta = stream_->feed(*token);
  GenerationResponse r;
  r.text = delta.text;
  r.channel = delta.channel;
  r.token = *token;
  const GenerationStats s = generator_->stats();
  r.prompt_tokens = s.prompt_tokens;
  r.prompt_tps = s.prompt_tps();
  r.generation_tokens = s.generation_tokens;
  r.generation_tps = s.generation_tps();
  r.peak_memory = peak_resident_gb();
  if (generator_->finish_reason() != FinishReason::none) {
    r.finish_reason = finish_reason_name(generator_->finish_reason());
    const TextStream::Delta tail = stream_->finish();
    if (tail.fell_back) {  // harmony never started: the whole output, as plain text
      r.text = tail.text;
      r.channel.clear();
    } else {
      r.text += tail.text;
    }
  }
  return r;
}

}  // namespace gptoss::python
