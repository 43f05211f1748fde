#include "server/generation_run.h"

#include "server/ids.h"

namespace gptoss::server {

GenerationRun::GenerationRun(Ticket& ticket, const Tokenizer& tokenizer, const OutputAssembler::Options& options,
                             Metrics& metrics, Clock::time_point received)
    : ticket_(ticket), metrics_(metrics), received_(received) {
  for (int i = 0; i < ticket.choices(); ++i) {
    OutputAssembler::Options choice = options;
    choice.call_id_prefix = random_id("call_", 16);
    assemblers_.emplace_back(tokenizer, choice);
  }
}

bool GenerationRun::run(const OnEvents& on_events, const std::function<bool()>& keep_waiting) {
  const int n = ticket_.choices();
  std::vector<bool> finished(static_cast<size_t>(n), false);
  int remaining = n;
  while (remaining > 0) {
    for (int i = 0; i < n; ++i) {
      if (finished[static_cast<size_t>(i)]) continue;
      OutputAssembler& assembler = assemblers_[static_cast<size_t>(i)];
      std::vector<OutputEvent> events;
      bool done = false;
      const auto token = ticket_.next(i, keep_waiting);
      if (!token && ticket_.finish_reason(i) == FinishReason::none) return false;  // keep_waiting said no
      if (token) {
        if (!first_token_) {
          first_token_ = true;
          metrics_.first_token(std::chrono::duration<double>(Clock::now() - received_).count());
        }
        metrics_.generated(1);
        events = assembler.feed(*token);
        if (assembler.stopped()) {  // a stop string: the answer ends here
          ticket_.cancel(i);
          auto last = assembler.finish(FinishReason::stop);
          events.insert(events.end(), last.begin(), last.end());
          done = true;
        }
      } else {
        events = assembler.finish(ticket_.finish_reason(i));
        done = true;
      }
      if (done) {
        finished[static_cast<size_t>(i)] = true;
        --remaining;
      }
      if (!on_events(i, events, done)) return false;
    }
  }
  return true;
}

std::vector<AssembledOutput> GenerationRun::outputs() const {
  std::vector<AssembledOutput> all;
  for (const auto& a : assemblers_) all.push_back(a.output());
  return all;
}

Usage GenerationRun::usage() const {
  Usage usage;
  usage.prompt_tokens = ticket_.prompt_tokens();
  usage.cached_tokens = ticket_.cached_prompt_tokens();
  for (const auto& a : assemblers_) usage.add(a.output());
  return usage;
}

}  // namespace gptoss::server
