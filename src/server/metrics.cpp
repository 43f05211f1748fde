#include "server/metrics.h"

#include <cstdio>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gptoss::server {

namespace {

int64_t second_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void line(std::string& out, const char* name, const char* type, const char* help, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + buffer + "\n";
}

// Bytes the process holds from malloc: with the KV pool's size, what a soak watches for leaks
// (resident memory also grows as the pool's and the worker threads' stacks' pages are first
// touched). -1 where the C library cannot tell.
double heap_bytes() {
#if defined(__GLIBC__)
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
#else
  return -1;
#endif
}

}  // namespace

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::prompt(int tokens, int cached) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += tokens;
  cached_tokens_ += cached;
}

void Metrics::first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ++first_tokens_;
  first_token_seconds_ += seconds;
}

void Metrics::generated(int tokens) {
  const int64_t second = second_now();
  std::lock_guard lock(mutex_);
  generated_tokens_ += tokens;
  auto& slot = per_second_[static_cast<size_t>(second) % per_second_.size()];
  if (slot.first != second) slot = {second, 0};
  slot.second += tokens;
}

void Metrics::disconnect() {
  std::lock_guard lock(mutex_);
  ++disconnects_;
}

double Metrics::rate() const {
  const int64_t now = second_now();
  int64_t tokens = 0;
  for (const auto& [second, count] : per_second_)
    if (second < now && second >= now - kRateSeconds) tokens += count;  // whole seconds only
  return static_cast<double>(tokens) / kRateSeconds;
}

std::string Metrics::render(const SchedulerCounters& s, int in_flight) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP gptoss_requests_total HTTP requests answered, by endpoint and status.\n"
         "# TYPE gptoss_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += "gptoss_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(count) + "\n";
  line(out, "gptoss_prompt_tokens_total", "counter", "Prompt tokens of admitted generations.", static_cast<double>(prompt_tokens_));
  line(out, "gptoss_prompt_cached_tokens_total", "counter", "Prompt tokens the prefix cache supplied.",
       static_cast<double>(cached_tokens_));
  line(out, "gptoss_generated_tokens_total", "counter", "Tokens generated.", static_cast<double>(generated_tokens_));
  line(out, "gptoss_generated_tokens_per_second", "gauge", "Tokens generated per second over the last 10 s.", rate());
  line(out, "gptoss_time_to_first_token_seconds_sum", "counter", "Time from request to first token, summed.",
       first_token_seconds_);
  line(out, "gptoss_time_to_first_token_seconds_count", "counter", "Generations that produced a first token.",
       static_cast<double>(first_tokens_));
  line(out, "gptoss_client_disconnects_total", "counter", "Clients that left before their answer ended.",
       static_cast<double>(disconnects_));
  line(out, "gptoss_requests_in_flight", "gauge", "Admitted choices not yet finished.", in_flight);
  line(out, "gptoss_running", "gauge", "Requests in the running batch.", s.running);
  line(out, "gptoss_queued", "gauge", "Requests waiting for the running batch.", s.waiting);
  line(out, "gptoss_kv_blocks_used", "gauge", "KV pool blocks in use.", static_cast<double>(s.kv_blocks_used));
  line(out, "gptoss_kv_blocks_total", "gauge", "KV pool blocks.", static_cast<double>(s.kv_blocks_total));
  line(out, "gptoss_kv_pool_bytes", "gauge", "KV pool size in bytes.", static_cast<double>(s.kv_bytes_total));
  line(out, "gptoss_prefix_cache_hit_tokens_total", "counter", "Prompt tokens reused from the prefix cache.",
       static_cast<double>(s.prefix_cached_tokens));
  line(out, "gptoss_preemptions_total", "counter", "Requests preempted when the KV pool ran out.",
       static_cast<double>(s.preemptions));
  line(out, "gptoss_steps_total", "counter", "Scheduler steps.", static_cast<double>(s.steps));
  line(out, "gptoss_forwarded_tokens_total", "counter", "Rows computed by all steps.", static_cast<double>(s.forwarded_tokens));
  line(out, "gptoss_heap_bytes", "gauge", "Bytes allocated from the heap (malloc), with what its thread caches hold.", heap_bytes());
  return out;
}

}  // namespace gptoss::server
