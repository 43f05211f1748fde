#include "gptoss/scheduler.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "gptoss/error.h"
#include "model/forward.h"
#include "model/loaded_model.h"
#include "runtime/batch_builder.h"
#include "runtime/kv_layers.h"
#include "runtime/kv_pool.h"
#include "runtime/sequence_kv.h"

namespace gptoss {

namespace {
constexpr const char* kDoesNotFit = "the KV pool cannot hold this request (raise the KV memory)";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

struct Scheduler::Request {
  Request(std::vector<int32_t> prompt, const GenerationOptions& o, int32_t vocab)
      : tokens(std::move(prompt)), prompt_length(tokens.size()), options(o), sampler(o.sampler, vocab) {}

  // Set at submit, then read by the stepping thread only.
  std::vector<int32_t> tokens;  // the prompt, then every sampled token
  size_t prompt_length;
  GenerationOptions options;
  Sampler sampler;
  double submitted = now_seconds();

  // The stepping thread's.
  std::optional<SequenceKv> kv;
  std::vector<uint32_t> allowed;  // the constraint's mask for the token being sampled
  int32_t computed = 0;  // tokens whose keys and values are in kv
  int generated = 0;
  double first_token_time = 0;

  // Shared: guarded by State::mutex.
  std::deque<TokenEvent> events;
  bool finished = false;
  bool cancel_requested = false;
  FinishReason finish = FinishReason::none;
  std::string error;
  GenerationStats stats;
  int cached_prompt_tokens = 0;
};

struct Scheduler::State {
  State(const LoadedModel& m, const SchedulerOptions& o)
      : model(m),
        options(o),
        pool(m.backend(), m.config(),
             pool_options(m.config(), o.kv, o.max_kv_size, o.max_running, o.step_tokens, o.context_length, 0,
                          m.backend())),
        layers(pool),
        forward(m.config(), m.device_weights(), m.backend(), m.op_profile()) {}
  // A caller may keep a handle longer than the scheduler: its blocks go back to the pool now.
  ~State() {
    for (const Handle& r : running) release(*r);
    for (const Handle& r : waiting) release(*r);
  }

  const LoadedModel& model;
  SchedulerOptions options;

  mutable std::mutex mutex;
  std::condition_variable stepped;
  bool stepping = false;
  std::deque<Handle> incoming;  // submitted, not yet seen by a step
  SchedulerCounters counters;

  // The stepping thread's.
  KvPool pool;
  PoolLayers layers;
  ForwardPass forward;
  BatchBuilder batch;
  std::deque<Handle> waiting;
  std::vector<Handle> running;  // in admission order, oldest first

  struct Planned {
    Handle request;
    int32_t start;
    int32_t rows;
    bool sample;
  };

  bool run_step();
  // Runs a step as the one stepping thread; `lock` holds the mutex before and after.
  bool step_holding(std::unique_lock<std::mutex>& lock);
  void plan(std::vector<Planned>& planned);
  bool reserve(Request& r, int32_t& rows, std::vector<Planned>& planned, bool may_preempt);
  void preempt(const Handle& r);
  void fail(const Handle& r, const std::string& message);
  void finish(const Handle& r, FinishReason reason);
  void release(Request& r);
  void sample(std::vector<Planned>& planned, const Activations& logits);
  bool constrain(const Handle& request, SampleRequest& s);
  void accept(Request& r, const SampleResult& result);
  void publish_counters();  // with the mutex held
};

void Scheduler::State::release(Request& r) {
  if (r.kv) r.kv->release();
  r.kv.reset();
  r.computed = 0;
}

// Called without the mutex; publishes under it.
void Scheduler::State::finish(const Handle& r, FinishReason reason) {
  release(*r);
  std::lock_guard lock(mutex);
  r->finished = true;
  if (r->finish == FinishReason::none) r->finish = reason;
}

void Scheduler::State::fail(const Handle& r, const std::string& message) {
  release(*r);
  std::lock_guard lock(mutex);
  r->finished = true;
  r->error = message;
}

// Preemption by recomputation: the request gives back its blocks (the full ones stay in the
// prefix cache, so it usually gets them back) and waits at the front of the queue.
void Scheduler::State::preempt(const Handle& r) {
  release(*r);
  std::erase(running, r);
  waiting.push_front(r);
  std::lock_guard lock(mutex);
  ++counters.preemptions;
}

// Reserves blocks for `rows` more tokens of r, shrinking a prompt chunk first and then, when
// allowed, preempting newer running requests that are not part of this step yet. False: r
// did not fit.
bool Scheduler::State::reserve(Request& r, int32_t& rows, std::vector<Planned>& planned, bool may_preempt) {
  for (;;) {
    if (r.kv->reserve(r.computed + rows)) return true;
    if (rows > 1) {
      rows /= 2;
      continue;
    }
    if (!may_preempt) return false;
    // The newest running request that this step has not planned yet gives way.
    auto victim = std::find_if(running.rbegin(), running.rend(), [&](const Handle& h) {
      return h.get() != &r && std::none_of(planned.begin(), planned.end(), [&](const Planned& p) { return p.request == h; });
    });
    if (victim == running.rend()) return false;
    preempt(*victim);
  }
}

// The tokens of r this step computes: what it has not computed yet, at most the budget left and
// its own prefill step size.
int32_t chunk(const Scheduler::Request& r, int budget) {
  const auto remaining = static_cast<int32_t>(r.tokens.size()) - r.computed;
  return std::min({remaining, budget, r.options.prefill_step_size});
}

void Scheduler::State::plan(std::vector<Planned>& planned) {
  int budget = options.step_tokens;
  // Running requests first, oldest first: decode rows and the rest of prompts being prefilled.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Handle r = running[i];
    int32_t rows = chunk(*r, budget);
    if (!reserve(*r, rows, planned, true)) {
      if (planned.empty()) {
        fail(r, kDoesNotFit);
        std::erase(running, r);
      } else {
        preempt(r);
      }
      continue;
    }
    planned.push_back({r, r->computed, rows, r->computed + rows == static_cast<int32_t>(r->tokens.size())});
    budget -= rows;
    ++i;
  }
  // Then waiting requests, in order, while there is room.
  while (!waiting.empty() && budget > 0 && static_cast<int>(running.size()) < options.max_running) {
    Handle r = waiting.front();
    if (!r->kv) {
      r->kv.emplace(pool);
      if (options.prefix_cache) {
        r->computed = r->kv->adopt_prefix(r->tokens);
        std::lock_guard lock(mutex);
        if (r->generated == 0) r->cached_prompt_tokens = r->computed;
        counters.prefix_cached_tokens += r->computed;
      }
    }
    int32_t rows = chunk(*r, budget);
    if (!reserve(*r, rows, planned, false)) {  // new requests never push running ones out
      if (running.empty()) {  // alone, with every block free, it still does not fit
        waiting.pop_front();
        fail(r, kDoesNotFit);
        continue;
      }
      break;  // it waits for blocks to come free
    }
    waiting.pop_front();
    running.push_back(r);
    planned.push_back({r, r->computed, rows, r->computed + rows == static_cast<int32_t>(r->tokens.size())});
    budget -= rows;
  }
}

void Scheduler::State::accept(Request& r, const SampleResult& result) {
  if (r.options.constraint) r.options.constraint->accept(result.token);
  r.tokens.push_back(result.token);
  ++r.generated;
  const double now = now_seconds();
  if (r.generated == 1) r.first_token_time = now;
  const auto& stops = r.options.stop_tokens;
  FinishReason reason = FinishReason::none;
  if (std::find(stops.begin(), stops.end(), result.token) != stops.end()) reason = FinishReason::stop;
  else if (r.generated >= r.options.max_tokens) reason = FinishReason::length;
  else if (options.max_kv_size == 0 && r.computed >= options.context_length) reason = FinishReason::context_full;
  std::lock_guard lock(mutex);
  r.events.push_back({result.token, result.logprob, result.top});
  r.stats.prompt_tokens = static_cast<int>(r.prompt_length);
  r.stats.generation_tokens = r.generated;
  if (r.generated == 1) r.stats.time_to_first_token = now - r.submitted;
  r.stats.generation_seconds = now - r.first_token_time;
  if (reason != FinishReason::none) r.finish = reason;
}

void Scheduler::State::sample(std::vector<Planned>& planned, const Activations& logits) {
  std::vector<Handle> rows;
  std::vector<SampleRequest> requests;
  std::vector<bool> sampled;  // false: the row's request ended without a token (its constraint)
  for (const Planned& p : planned) {
    if (!p.sample) continue;
    Request& r = *p.request;
    SampleRequest s;
    s.options = &r.sampler.options();
    s.vocab_size = r.sampler.vocab_size();
    // The penalties see the last prompt token and what follows, as mlx_lm's generate_step.
    s.history = std::span<const int32_t>(r.tokens).subspan(r.prompt_length - 1);
    s.uniform = s.options->temperature == 0 ? 0.0 : r.sampler.next_uniform();
    s.logprobs = r.options.logprobs || r.options.top_logprobs > 0;
    s.top_logprobs = r.options.top_logprobs;
    // Every sampled row keeps its place: the logits rows are in this order.
    sampled.push_back(!r.options.constraint || constrain(p.request, s));
    requests.push_back(s);
    rows.push_back(p.request);
  }
  if (requests.empty()) return;
  std::vector<SampleResult> results(requests.size());
  Backend& backend = model.backend();
  try {
    backend.sample(forward.context(), logits, requests, results);
  } catch (const Error&) {
    // Find the rows at fault (a non-finite logit fails its own request only).
    for (size_t i = 0; i < requests.size(); ++i) {
      const Activations row{static_cast<char*>(logits.data) + static_cast<int64_t>(i) * logits.cols * element_bytes(logits.dtype),
                            logits.dtype, 1, logits.cols};
      try {
        backend.sample(forward.context(), row, {&requests[i], 1}, {&results[i], 1});
      } catch (const Error& e) {
        results[i].token = -1;
        if (sampled[i]) fail(rows[i], e.what());
      }
    }
  }
  for (size_t i = 0; i < rows.size(); ++i)
    if (sampled[i] && results[i].token >= 0) accept(*rows[i], results[i]);
}

// Asks the request's constraint which tokens may come next. False: the request ended instead
// (its constraint allows nothing more, or failed), and its row's token is to be ignored.
bool Scheduler::State::constrain(const Handle& request, SampleRequest& s) {
  Request& r = *request;
  r.allowed.assign((static_cast<size_t>(s.vocab_size) + 31) / 32, 0);
  try {
    r.options.constraint->allowed_tokens(r.allowed);
  } catch (const std::exception& e) {
    fail(request, std::string("token constraint: ") + e.what());
    return false;
  }
  if (std::all_of(r.allowed.begin(), r.allowed.end(), [](uint32_t word) { return word == 0; })) {
    std::lock_guard lock(mutex);
    r.finish = FinishReason::stop;  // the constrained output is complete
    return false;
  }
  s.allowed = r.allowed;
  return true;
}

bool Scheduler::State::run_step() {
  const double step_start = now_seconds();
  {
    std::lock_guard lock(mutex);
    while (!incoming.empty()) {
      waiting.push_back(std::move(incoming.front()));
      incoming.pop_front();
    }
  }
  // Cancelled requests leave first: their blocks are free for this step.
  const auto cancelled = [&](const Handle& r) {
    std::lock_guard lock(mutex);
    return r->cancel_requested;
  };
  for (const Handle& r : std::vector<Handle>(running))
    if (cancelled(r)) {
      finish(r, FinishReason::cancelled);
      std::erase(running, r);
    }
  for (const Handle& r : std::vector<Handle>(waiting.begin(), waiting.end()))
    if (cancelled(r)) {
      finish(r, FinishReason::cancelled);
      std::erase(waiting, r);
    }

  std::vector<Planned> planned;
  plan(planned);
  if (planned.empty()) {
    std::lock_guard lock(mutex);
    publish_counters();
    return false;
  }

  batch.clear();
  // Logits rows come out in this order: sample() walks the sampled requests the same way.
  for (const Planned& p : planned)
    batch.add(*p.request->kv, p.start,
              std::span<const int32_t>(p.request->tokens).subspan(static_cast<size_t>(p.start),
                                                                  static_cast<size_t>(p.rows)),
              p.sample ? LogitsWanted::last : LogitsWanted::none);
  const double forward_start = now_seconds();
  const Activations logits = forward.run(batch.layout(), layers, nullptr, options.should_stop);
  for (const Planned& p : planned) {
    p.request->kv->commit(p.start + p.rows, std::span<const int32_t>(p.request->tokens)
                                                .subspan(static_cast<size_t>(p.start), static_cast<size_t>(p.rows)));
    p.request->computed += p.rows;
  }
  sample(planned, logits);
  const double forward_end = now_seconds();

  // Requests that finished (or failed) leave the batch and free their blocks at once.
  for (const Planned& p : planned) {
    bool done;
    {
      std::lock_guard lock(mutex);
      done = p.request->finished || p.request->finish != FinishReason::none;
    }
    if (!done) continue;
    finish(p.request, FinishReason::none);
    std::erase(running, p.request);
  }
  std::lock_guard lock(mutex);
  ++counters.steps;
  counters.forwarded_tokens += batch.rows();
  counters.forward_seconds += forward_end - forward_start;
  counters.step_seconds += now_seconds() - step_start;
  publish_counters();
  return true;
}

// The counters readers see: copied under the mutex, since the lists belong to the stepping thread.
void Scheduler::State::publish_counters() {
  counters.running = static_cast<int>(running.size());
  counters.waiting = static_cast<int>(waiting.size());
  counters.kv_blocks_total = counters.kv_blocks_used = counters.kv_bytes_total = 0;
  for (int g = 0; g < pool.groups(); ++g) {
    counters.kv_blocks_total += pool.total_blocks(g);
    counters.kv_bytes_total += pool.total_blocks(g) * pool.bytes_per_block(g);
    counters.kv_blocks_used += pool.total_blocks(g) - pool.free_blocks(g);
  }
}

Scheduler::Scheduler(const Model& model, const SchedulerOptions& options) {
  SchedulerOptions o = options;
  if (o.context_length == 0) o.context_length = model.config().max_position_embeddings;
  if (o.max_running <= 0) throw Error("max_running must be positive");
  if (o.step_tokens <= 0) throw Error("step_tokens must be positive");
  if (o.context_length < 0) throw Error("context_length must not be negative");
  if (o.max_kv_size < 0) throw Error("max_kv_size must not be negative");
  state_ = std::make_unique<State>(loaded(model), o);
  state_->publish_counters();  // the pool's size is known before the first step (no other thread yet)
}

Scheduler::~Scheduler() = default;

Scheduler::Handle Scheduler::submit(std::span<const int32_t> prompt, const GenerationOptions& options) {
  const ModelConfig& config = state_->model.config();
  if (prompt.empty()) throw Error("the prompt is empty");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= config.vocab_size)
      throw Error("prompt token id " + std::to_string(prompt[i]) + " at index " + std::to_string(i) +
                  " is outside the vocabulary (size " + std::to_string(config.vocab_size) + ")");
  if (state_->options.max_kv_size == 0 && static_cast<int64_t>(prompt.size()) > state_->options.context_length)
    throw Error("the prompt's " + std::to_string(prompt.size()) + " tokens exceed the context length of " +
                std::to_string(state_->options.context_length));
  if (options.max_tokens < 0) throw Error("max_tokens must not be negative");
  const int32_t vocab = options.sample_vocab_size > 0 ? options.sample_vocab_size : config.vocab_size;
  auto request = std::make_shared<Request>(std::vector<int32_t>(prompt.begin(), prompt.end()), options, vocab);
  std::lock_guard lock(state_->mutex);
  request->stats.prompt_tokens = static_cast<int>(prompt.size());
  if (options.max_tokens == 0) {
    request->finished = true;
    request->finish = FinishReason::length;
    return request;
  }
  state_->incoming.push_back(request);
  return request;
}

std::optional<TokenEvent> Scheduler::next(const Handle& request) { return next(request, {}); }

std::optional<TokenEvent> Scheduler::next(const Handle& request, const std::function<bool()>& keep_waiting) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  for (;;) {
    if (!request->events.empty()) {
      TokenEvent e = std::move(request->events.front());
      request->events.pop_front();
      return e;
    }
    if (!request->error.empty()) throw Error(request->error);
    if (request->finished) return std::nullopt;
    if (keep_waiting) {
      lock.unlock();  // the check may block on a socket
      const bool wait = keep_waiting();
      lock.lock();
      if (!wait) return std::nullopt;
      if (!request->events.empty() || request->finished || !request->error.empty()) continue;
    }
    if (s.stepping) {
      s.stepped.wait(lock);
      continue;
    }
    s.step_holding(lock);
  }
}

bool Scheduler::State::step_holding(std::unique_lock<std::mutex>& lock) {
  stepping = true;
  lock.unlock();
  // Whatever happens in the step (gptoss::Interrupted, a failed allocation), the next waiter
  // may step again.
  struct Done {
    State& s;
    std::unique_lock<std::mutex>& lock;
    ~Done() {
      lock.lock();
      s.stepping = false;
      s.stepped.notify_all();
    }
  } done{*this, lock};
  return run_step();
}

bool Scheduler::step() {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  s.stepped.wait(lock, [&] { return !s.stepping; });
  return s.step_holding(lock);
}

void Scheduler::cancel(const Handle& request) {
  std::lock_guard lock(state_->mutex);
  if (!request->finished) request->cancel_requested = true;
}

FinishReason Scheduler::finish_reason(const Handle& request) const {
  std::lock_guard lock(state_->mutex);
  return request->events.empty() ? request->finish : FinishReason::none;
}

GenerationStats Scheduler::stats(const Handle& request) const {
  std::lock_guard lock(state_->mutex);
  return request->stats;
}

int Scheduler::cached_prompt_tokens(const Handle& request) const {
  std::lock_guard lock(state_->mutex);
  return request->cached_prompt_tokens;
}

SchedulerCounters Scheduler::counters() const {
  std::lock_guard lock(state_->mutex);
  SchedulerCounters c = state_->counters;
  c.waiting += static_cast<int>(state_->incoming.size());
  return c;
}

const Model& Scheduler::model() const { return state_->model; }
int Scheduler::context_length() const { return state_->options.context_length; }
int Scheduler::max_kv_size() const { return state_->options.max_kv_size; }

}  // namespace gptoss
