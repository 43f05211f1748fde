// What GET /metrics reports, in Prometheus' text exposition format (version 0.0.4): requests by
// endpoint and status, prompt / cached / generated tokens, the generation rate over the last ten
// seconds, time to first token, and the scheduler's state (running, queued, KV blocks, prefix
// cache hits, preemptions).
//
// Thread-safe: every handler thread records into one Metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "gptoss/scheduler.h"

namespace gptoss::server {

class Metrics {
 public:
  void request(const std::string& endpoint, int status);
  // A generation's prompt (of which `cached` came from the prefix cache) when it starts.
  void prompt(int tokens, int cached);
  void first_token(double seconds_since_request);
  void generated(int tokens);  // as they are produced (the rate counts them)
  void disconnect();           // a client went away before its answer ended

  std::string render(const SchedulerCounters& scheduler, int in_flight) const;

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr int kRateSeconds = 10;
  double rate() const;  // tokens per second over the last kRateSeconds whole seconds; mutex held

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  int64_t prompt_tokens_ = 0, cached_tokens_ = 0, generated_tokens_ = 0, disconnects_ = 0;
  int64_t first_tokens_ = 0;
  double first_token_seconds_ = 0;
  // Tokens generated per second, a ring indexed by the second since the epoch.
  std::array<std::pair<int64_t, int64_t>, kRateSeconds + 2> per_second_{};  // (second, tokens)
};

}  // namespace gptoss::server
