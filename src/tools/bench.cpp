// gptoss bench: load time, prompt and decode throughput, time to first token and peak memory
// of a model, like llama-bench's pp/tg tests; decode's weight traffic beside the machine's
// measured memory bandwidth (the CPU's read bandwidth, a GPU's device copy), the ceiling it is
// bound by.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "gptoss/gptoss.h"
#include "runtime/peak_memory.h"
#include "tools/device_flags.h"
#include "tools/model_directory.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"
#include "model/loaded_model.h"

namespace gptoss::tools {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  int prompt = 512;
  int generate = 128;
  int repetitions = 1;
  int batch = 1;
  bool json = false;
  bool profile = false;
  DeviceFlags device;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Weight bytes one decoded token reads: every tensor except the embedding (one row) and the
// experts (experts_per_token of num_experts per layer).
double bytes_per_token(const Model& model) {
  const ModelConfig& c = model.config();
  double bytes = 0;
  for (const auto& t : model.describe().tensors) {
    if (t.name.rfind("model.embed_tokens", 0) == 0) bytes += static_cast<double>(t.bytes) / c.vocab_size;
    else if (t.name.find(".mlp.experts.") != std::string::npos)
      bytes += static_cast<double>(t.bytes) * c.experts_per_token / c.num_experts;
    else bytes += static_cast<double>(t.bytes);
  }
  return bytes;
}

struct Measurement {
  double prefill_seconds = 0;  // the first request's time to first token
  int64_t decode_tokens = 0;   // tokens of the steps in which every request decoded
  double decode_seconds = 0;
  double scheduling_share = 0;  // of those steps' time, what was not forward pass or sampling
};

// B requests of `prompt` random tokens and `generate` greedy tokens each, through the scheduler
// the server uses. Decode throughput counts only steps in which all B requests decode together.
Measurement run_once(const Model& model, const BenchArgs& a, std::mt19937& rng) {
  Scheduler scheduler(model, {.max_running = a.batch,
                              .step_tokens = std::max(2048, a.batch),
                              .context_length = a.prompt + a.generate + 1,
                              .kv = kv_options(a.device, model),
                              .prefix_cache = false});
  std::uniform_int_distribution<int32_t> token(0, 199997);  // ordinary text tokens
  GenerationOptions options;
  options.max_tokens = a.generate + 1;  // the first token comes from the prefill
  std::vector<Scheduler::Handle> requests;
  for (int b = 0; b < a.batch; ++b) {
    std::vector<int32_t> prompt(static_cast<size_t>(a.prompt));
    for (auto& t : prompt) t = token(rng);
    requests.push_back(scheduler.submit(prompt, options));
  }
  Measurement m;
  const auto start = Clock::now();
  double scheduling = 0;
  for (;;) {
    const SchedulerCounters before = scheduler.counters();
    const auto step_start = Clock::now();
    if (!scheduler.step()) break;
    const double seconds = seconds_since(step_start);
    const SchedulerCounters after = scheduler.counters();
    if (m.prefill_seconds == 0 && scheduler.stats(requests[0]).generation_tokens > 0) m.prefill_seconds = seconds_since(start);
    const int64_t rows = after.forwarded_tokens - before.forwarded_tokens;
    if (rows == a.batch && before.running == a.batch && before.waiting == 0) {
      m.decode_tokens += rows;
      m.decode_seconds += seconds;
      scheduling += seconds - (after.forward_seconds - before.forward_seconds);
    }
  }
  m.scheduling_share = m.decode_seconds > 0 ? scheduling / m.decode_seconds : 0;
  return m;
}

// "12.3", or "" where an operation reads no weights.
std::string optional_figure(double value, bool present) {
  if (!present) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// The forward pass's time per operation (Model::profile), per phase: its cost per pass (a
// decode pass is one token per sequence, a prefill pass one step's prompt rows), its share of
// the phase, and the bandwidth of the weights it read against the machine's read ceiling.
void print_profile(const std::vector<OperationProfile>& ops, double ceiling) {
  std::printf("\n| operation | calls | ms per pass | share | weight GB/s | %% of read ceiling |\n|---|---|---|---|---|---|\n");
  for (const std::string phase : {"prefill/", "decode/"}) {
    double total = 0;
    int64_t passes = 0;
    for (const auto& op : ops) {
      if (op.name.rfind(phase, 0) != 0) continue;
      total += op.seconds;
      if (op.name == phase + "embed") passes = op.calls;
    }
    if (passes == 0) continue;
    for (const auto& op : ops) {
      if (op.name.rfind(phase, 0) != 0) continue;
      const double gbs = op.weight_bytes / op.seconds / 1e9;
      std::printf("| %s | %lld | %.3f | %.1f %% | %s | %s |\n", op.name.c_str(), static_cast<long long>(op.calls),
                  1e3 * op.seconds / static_cast<double>(passes), 100 * op.seconds / total,
                  optional_figure(gbs, op.weight_bytes > 0).c_str(),
                  optional_figure(100 * gbs / ceiling, op.weight_bytes > 0).c_str());
    }
    std::printf("| %stotal | %lld passes | %.3f | | | |\n", phase.c_str(), static_cast<long long>(passes),
                1e3 * total / static_cast<double>(passes));
  }
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean) / static_cast<double>(v.size());
  return {mean, std::sqrt(var)};
}

void run(const BenchArgs& a) {
  if (a.prompt < 1 || a.generate < 0 || a.repetitions < 1 || a.batch < 1)
    throw gptoss::Error("bench: -p ≥ 1, -n ≥ 0, -r ≥ 1 and --batch ≥ 1 please");
  const auto load_start = Clock::now();
  LoadOptions options = load_options(a.device);
  options.profile = a.profile;
  const auto model = Model::load(model_directory(a.model), options);
  const double load_seconds = seconds_since(load_start);
  std::mt19937 rng(1234);
  std::vector<double> prefill, decode, ttft, scheduling;
  for (int r = 0; r < a.repetitions; ++r) {
    const Measurement m = run_once(*model, a, rng);
    prefill.push_back(a.prompt / m.prefill_seconds);
    ttft.push_back(m.prefill_seconds);
    if (m.decode_seconds > 0) decode.push_back(static_cast<double>(m.decode_tokens) / m.decode_seconds);
    scheduling.push_back(m.scheduling_share);
  }
  const auto [pp, pp_sd] = mean_std(prefill);
  const auto [tg, tg_sd] = mean_std(decode.empty() ? std::vector<double>{0} : decode);
  const auto [first, first_sd] = mean_std(ttft);
  const auto [sched, sched_sd] = mean_std(scheduling);
  // Weight bytes per token hold for one sequence; a batch reads more experts per step.
  const double per_token = a.batch == 1 ? bytes_per_token(*model) : 0;
  const double peak = peak_resident_gb();  // before the probe's 1 GiB buffer, which is not the model's
  // The ceiling decode is memory-bound against, measured on the model's device (with the same
  // threads on a CPU).
  const double ceiling = loaded(*model).backend().measure_bandwidth_gbs(a.device.threads);
  const double weight_gbs = tg * per_token / 1e9;
  const double percent = 100.0 * weight_gbs / ceiling;
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"device", model->device()}, {"threads", a.device.threads},
                        {"batch", a.batch}, {"prompt_tokens", a.prompt},
                        {"generated_tokens", a.generate}, {"repetitions", a.repetitions},
                        {"load_seconds", load_seconds}, {"prompt_tokens_per_second", pp},
                        {"decode_tokens_per_second", tg}, {"aggregate_tok_s", tg},
                        {"per_sequence_tok_s", tg / a.batch}, {"time_to_first_token_seconds", first},
                        {"scheduling_overhead_percent", 100 * sched}, {"read_bandwidth_gbs", ceiling},
                        {"peak_memory_gb", peak}};
    if (a.batch == 1) {
      j["decode_weight_bytes_per_token"] = per_token;
      j["decode_weight_gb_per_second"] = weight_gbs;
      j["percent_of_read_bandwidth"] = percent;
    }
    if (a.profile) {
      nlohmann::json& ops = j["profile"] = nlohmann::json::array();
      for (const auto& op : model->profile())
        ops.push_back({{"name", op.name}, {"calls", op.calls}, {"seconds", op.seconds}, {"weight_bytes", op.weight_bytes}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  if (a.batch > 1) {
    std::printf("| model | device | batch | load s | pp%d tok/s | TTFT s | tg%d aggregate tok/s | per sequence tok/s | "
                "scheduling %% | read ceiling GB/s | peak GB |\n",
                a.prompt, a.generate);
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::printf("| %s | %s | %d | %.2f | %.1f ± %.1f | %.3f ± %.3f | %.2f ± %.2f | %.2f | %.2f | %.1f | %.2f |\n",
                a.model.c_str(), model->device().c_str(), a.batch, load_seconds, pp, pp_sd, first, first_sd, tg, tg_sd,
                tg / a.batch, 100 * sched, ceiling, peak);
    if (a.profile) print_profile(model->profile(), ceiling);
    return;
  }
  std::printf("| model | device | load s | pp%d tok/s | TTFT s | tg%d tok/s | weights GB/token | weight GB/s | "
              "read ceiling GB/s | %% of ceiling | peak GB |\n",
              a.prompt, a.generate);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %s | %.2f | %.1f ± %.1f | %.3f ± %.3f | %.2f ± %.2f | %.3f | %.2f | %.1f | %.1f | %.2f |\n",
              a.model.c_str(), model->device().c_str(), load_seconds, pp, pp_sd, first, first_sd, tg, tg_sd,
              per_token / 1e9, weight_gbs, ceiling, percent, peak);
  if (a.profile) print_profile(model->profile(), ceiling);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure load time, prompt and decode speed, and peak memory");
  cmd->add_option("-m,--model", a->model, "Model directory or Hugging Face repo id")->required();
  cmd->add_option("-p,--n-prompt", a->prompt, "Prompt tokens")->capture_default_str();
  cmd->add_option("-n,--n-gen", a->generate, "Generated tokens")->capture_default_str();
  cmd->add_option("-r,--repetitions", a->repetitions, "Repetitions (mean ± standard deviation)")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch, "Sequences decoding together (aggregate and per-sequence tok/s)")
      ->capture_default_str();
  add_device_flags(cmd, a->device);
  add_kv_flags(cmd, a->device);
  cmd->add_flag("--json", a->json, "Print JSON instead of a table");
  cmd->add_flag("--profile", a->profile, "Time every operation of the forward pass (synchronizes after each)");
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
