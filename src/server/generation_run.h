// Drives one request's choices through their OutputAssemblers: each choice's tokens in turn
// from the Ticket (every scheduler step gives each running choice one, so taking them in turn
// keeps the choices in step), a matched stop string cancelling its choice, the metrics counted.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "gptoss/tokenizer.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/output_assembler.h"
#include "server/usage.h"

namespace gptoss::server {

class GenerationRun {
 public:
  using Clock = std::chrono::steady_clock;
  // `options.call_id_prefix` is made unique per choice.
  GenerationRun(Ticket& ticket, const Tokenizer& tokenizer, const OutputAssembler::Options& options, Metrics& metrics,
                Clock::time_point received);

  // Called with a choice's new events after each of its tokens, and with finished = true
  // after its last. Returning false stops the run (the client is gone).
  using OnEvents = std::function<bool(int choice, const std::vector<OutputEvent>& events, bool finished)>;
  // Runs until every choice has ended (true) or on_events returned false. `keep_waiting`, when
  // given, is asked while a choice waits for a token (Scheduler::next); false also stops the run
  // (the client is gone). Throws gptoss::Error when a choice failed.
  bool run(const OnEvents& on_events, const std::function<bool()>& keep_waiting = {});

  const AssembledOutput& output(int choice) const { return assemblers_.at(static_cast<size_t>(choice)).output(); }
  std::vector<AssembledOutput> outputs() const;
  Usage usage() const;  // prompt (once), cached prompt, and every choice's tokens

 private:
  Ticket& ticket_;
  Metrics& metrics_;
  Clock::time_point received_;
  std::vector<OutputAssembler> assemblers_;
  bool first_token_ = false;
};

}  // namespace gptoss::server
