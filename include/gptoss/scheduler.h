// Many generations at once on one model: requests are admitted while the KV pool has room, and
// each step runs one forward pass over a ragged batch that mixes decode rows (one token per
// running request) with chunks of prompts (chunked prefill under a per-step token budget).
// Requests that start with cached blocks of an earlier prompt reuse them (the prefix cache);
// when the pool runs out, the newest requests are preempted and later recomputed, never lost.
//
// Thread-safe: any thread may submit, cancel and wait for tokens. Whoever waits for a token
// while no step is running runs the next step for everyone, so a few threads calling next()
// on their own requests batch together without a dedicated loop; a server may instead run
// step() in a loop of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gptoss/generation_options.h"
#include "gptoss/session.h"

namespace gptoss {

struct SchedulerOptions {
  int max_running = 16;     // requests decoding together (rows of a decode step)
  int step_tokens = 2048;   // tokens one step computes across all requests
  int context_length = 0;   // longest request (prompt + output); 0: the model's
  int max_kv_size = 0;      // see SessionOptions::max_kv_size
  KvOptions kv;             // memory_bytes 0: room for max_running requests of context_length
  bool prefix_cache = true;
  // Checked between layers; when it returns true the step is abandoned (nothing it computed
  // is kept) and next() throws gptoss::Interrupted to the thread that ran it.
  std::function<bool()> should_stop;
};

// One generated token.
struct TokenEvent {
  int32_t token = 0;
  float logprob = 0;  // with GenerationOptions::logprobs
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

struct SchedulerCounters {
  int running = 0;
  int waiting = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_bytes_total = 0;        // the KV pool's size
  int64_t steps = 0;
  int64_t forwarded_tokens = 0;      // rows computed by all steps so far
  int64_t prefix_cached_tokens = 0;  // prompt tokens taken from the prefix cache instead
  int64_t preemptions = 0;
  double step_seconds = 0;     // wall time of all steps
  double forward_seconds = 0;  // of which in the forward pass and sampling (the rest: scheduling)
};

class Scheduler {
 public:
  explicit Scheduler(const Model& model, const SchedulerOptions& options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  struct Request;
  using Handle = std::shared_ptr<Request>;

  // Queues a generation. Throws gptoss::Error for an empty prompt, a token id outside the
  // vocabulary, a prompt longer than the context, or sampler options out of range.
  Handle submit(std::span<const int32_t> prompt, const GenerationOptions& options);
  // The request's next token, running steps as needed; nothing once it has finished. Throws
  // gptoss::Error when the request failed (its message), gptoss::Interrupted (see
  // should_stop).
  std::optional<TokenEvent> next(const Handle& request);
  // As next(), but asks `keep_waiting` after every step that brought the request no token (a
  // queued request waits many); when it says no, returns nothing with the request unfinished
  // (finish_reason() none). The server checks there that a waiting client is still connected.
  std::optional<TokenEvent> next(const Handle& request, const std::function<bool()>& keep_waiting);
  // Stops the request; its KV blocks are freed by the next step.
  void cancel(const Handle& request);

  FinishReason finish_reason(const Handle& request) const;
  GenerationStats stats(const Handle& request) const;
  int cached_prompt_tokens(const Handle& request) const;  // prompt tokens the prefix cache gave

  // Runs one step if any request needs one; false when there was nothing to do.
  bool step();
  SchedulerCounters counters() const;
  const Model& model() const;
  int context_length() const;
  int max_kv_size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gptoss
