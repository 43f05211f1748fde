#include "server/engine.h"

#include <string>

#include "gptoss/error.h"
#include "server/api_error.h"

namespace gptoss::server {

Ticket::Ticket(Engine& engine, std::vector<Scheduler::Handle> handles, int prompt_tokens)
    : engine_(engine), handles_(std::move(handles)), prompt_tokens_(prompt_tokens) {}

Ticket::~Ticket() {
  bool cancelled = false;
  for (const auto& h : handles_) {
    if (engine_.scheduler_.finish_reason(h) != FinishReason::none) continue;
    engine_.scheduler_.cancel(h);
    cancelled = true;
  }
  try {
    // The step finishes the cancelled requests and returns their blocks to the pool now rather
    // than whenever the next request arrives.
    if (cancelled) engine_.scheduler_.step();
  } catch (const std::exception&) {
    // A failing step fails its requests (each reports it); the blocks are still released.
  }
  engine_.release(choices());
}

std::optional<TokenEvent> Ticket::next(int choice, const std::function<bool()>& keep_waiting) {
  return engine_.scheduler_.next(handles_.at(static_cast<size_t>(choice)), keep_waiting);
}

void Ticket::cancel(int choice) {
  engine_.scheduler_.cancel(handles_.at(static_cast<size_t>(choice)));
  engine_.scheduler_.step();
}

FinishReason Ticket::finish_reason(int choice) const {
  return engine_.scheduler_.finish_reason(handles_.at(static_cast<size_t>(choice)));
}

int Ticket::cached_prompt_tokens() const { return engine_.scheduler_.cached_prompt_tokens(handles_.front()); }

Engine::Engine(const Model& model, EngineOptions options) : scheduler_(model, options.scheduler), options_(options) {}

std::unique_ptr<Ticket> Engine::submit(std::span<const int32_t> prompt, GenerationOptions options, int n,
                                       bool max_tokens_given,
                                       const std::vector<std::shared_ptr<TokenConstraint>>& constraints) {
  const int context = scheduler_.context_length();
  const auto prompt_tokens = static_cast<int64_t>(prompt.size());
  if (prompt_tokens >= context)
    throw bad_request("the prompt has " + std::to_string(prompt_tokens) + " tokens; this model's context holds " +
                          std::to_string(context) + " (with at least one token for the answer)",
                      {}, "context_length_exceeded");
  if (!max_tokens_given) {
    options.max_tokens = static_cast<int>(context - prompt_tokens);
  } else if (prompt_tokens + options.max_tokens > context) {
    throw bad_request("the prompt (" + std::to_string(prompt_tokens) + " tokens) plus max_tokens (" +
                          std::to_string(options.max_tokens) + ") exceed this model's context of " +
                          std::to_string(context) + " tokens",
                      "max_tokens", "context_length_exceeded");
  }
  {
    std::lock_guard lock(mutex_);
    if (draining_) throw ApiError(503, "the server is shutting down", {}, "server_shutting_down", "server_error");
    const SchedulerOptions& s = options_.scheduler;
    if (in_flight_ + n > s.max_running + options_.max_queue)
      throw ApiError(429, "the server is busy (" + std::to_string(in_flight_) + " requests in progress); retry shortly",
                     {}, "server_busy");
    in_flight_ += n;
  }
  std::vector<Scheduler::Handle> handles;
  try {
    for (int i = 0; i < n; ++i) {
      GenerationOptions choice = options;
      if (options.sampler.seed) choice.sampler.seed = *options.sampler.seed + static_cast<uint64_t>(i);
      if (static_cast<size_t>(i) < constraints.size()) choice.constraint = constraints[static_cast<size_t>(i)];
      handles.push_back(scheduler_.submit(prompt, choice));
    }
  } catch (const Error& e) {
    for (const auto& h : handles) scheduler_.cancel(h);
    release(n);
    throw bad_request(e.what());
  }
  return std::unique_ptr<Ticket>(new Ticket(*this, std::move(handles), static_cast<int>(prompt_tokens)));
}

void Engine::release(int choices) {
  std::lock_guard lock(mutex_);
  in_flight_ -= choices;
  if (in_flight_ == 0) idle_.notify_all();
}

void Engine::begin_drain() {
  std::lock_guard lock(mutex_);
  draining_ = true;
}

bool Engine::draining() const {
  std::lock_guard lock(mutex_);
  return draining_;
}

void Engine::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return in_flight_ == 0; });
}

int Engine::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace gptoss::server
