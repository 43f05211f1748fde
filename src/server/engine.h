// The server's generations on one shared Scheduler: admission (a bounded queue, the context
// limit), the n choices of one request, cancellation that frees KV at once, and draining for
// shutdown. HTTP handler threads call next() on their own requests; whichever of them finds no
// step running runs the next one for everyone (Scheduler's design), so every request joins the
// running batch at the next step without a loop thread that would spin when idle.
//
// Thread-safe: one Engine serves every connection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "gptoss/generation_options.h"
#include "gptoss/scheduler.h"

namespace gptoss::server {

struct EngineOptions {
  SchedulerOptions scheduler;
  // Choices waiting for a place in the running batch beyond which requests are refused with 429.
  int max_queue = 64;
};

class Engine;

// One API request's choices, admitted together. Destroying it cancels whatever still runs (a
// client that went away, a handler that threw) and frees their KV blocks before returning.
class Ticket {
 public:
  ~Ticket();
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;

  int choices() const { return static_cast<int>(handles_.size()); }
  // The choice's next token; nothing once it has finished. Throws gptoss::Error if it failed.
  std::optional<TokenEvent> next(int choice, const std::function<bool()>& keep_waiting = {});
  // Stops the choice and runs a step, so that its KV is free when this returns.
  void cancel(int choice);
  FinishReason finish_reason(int choice) const;
  int prompt_tokens() const { return prompt_tokens_; }
  int cached_prompt_tokens() const;  // of the first choice (the prefix cache's hit)

 private:
  friend class Engine;
  Ticket(Engine& engine, std::vector<Scheduler::Handle> handles, int prompt_tokens);
  Engine& engine_;
  std::vector<Scheduler::Handle> handles_;
  int prompt_tokens_;
};

class Engine {
 public:
  Engine(const Model& model, EngineOptions options);

  // Admits `n` choices of `prompt` (choice i samples with seed + i, so they differ). When
  // max_tokens was not given the answer may fill the context. Throws ApiError: 503 while
  // draining, 429 (with a retry hint) when the queue is full, 400 context_length_exceeded when
  // prompt + max_tokens do not fit, 400 for options the scheduler refuses.
  std::unique_ptr<Ticket> submit(std::span<const int32_t> prompt, GenerationOptions options, int n,
                                 bool max_tokens_given,
                                 const std::vector<std::shared_ptr<TokenConstraint>>& constraints = {});

  // Refuses new requests from now on; then wait_idle() returns once the admitted ones end.
  void begin_drain();
  bool draining() const;
  void wait_idle();

  const Model& model() const { return scheduler_.model(); }
  int context_length() const { return scheduler_.context_length(); }
  int in_flight() const;  // admitted choices not yet finished or cancelled
  SchedulerCounters counters() const { return scheduler_.counters(); }

 private:
  friend class Ticket;
  void release(int choices);

  Scheduler scheduler_;
  EngineOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  int in_flight_ = 0;
  bool draining_ = false;
};

}  // namespace gptoss::server
