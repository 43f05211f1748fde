// gptoss bench: load time, prompt and decode throughput, time to first token and peak memory
// of a model, like llama-bench's pp/tg tests; decode's weight traffic beside the machine's
// measured read bandwidth (util/read_bandwidth.h), the ceiling it is bound by.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "gptoss/gptoss.h"
#include "runtime/peak_memory.h"
#include "tools/model_directory.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"
#include "util/read_bandwidth.h"

namespace gptoss::tools {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  int prompt = 512;
  int generate = 128;
  int threads = 0;
  int repetitions = 1;
  bool json = false;
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
  double prefill_seconds = 0, decode_seconds = 0;
};

Measurement run_once(const Model& model, const BenchArgs& a, std::mt19937& rng) {
  Session session(model, {.max_sequences = 1, .context_length = a.prompt + a.generate});
  std::uniform_int_distribution<int32_t> token(0, 199997);  // ordinary text tokens
  std::vector<int32_t> prompt(static_cast<size_t>(a.prompt));
  for (auto& t : prompt) t = token(rng);
  Measurement m;
  auto start = Clock::now();
  const SequenceInput input{0, prompt, LogitsWanted::last};
  Logits logits = session.forward({&input, 1});
  m.prefill_seconds = seconds_since(start);
  start = Clock::now();
  for (int i = 0; i < a.generate; ++i) {
    const float* row = logits.row(0);
    const auto next = static_cast<int32_t>(std::max_element(row, row + logits.vocab) - row);
    const SequenceInput step{0, {&next, 1}, LogitsWanted::last};
    logits = session.forward({&step, 1});
  }
  m.decode_seconds = seconds_since(start);
  return m;
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean) / static_cast<double>(v.size());
  return {mean, std::sqrt(var)};
}

void run(const BenchArgs& a) {
  if (a.prompt < 1 || a.generate < 0 || a.repetitions < 1) throw gptoss::Error("bench: -p ≥ 1, -n ≥ 0 and -r ≥ 1 please");
  const auto load_start = Clock::now();
  const auto model = Model::load(model_directory(a.model), {.backend = "cpu", .threads = a.threads});
  const double load_seconds = seconds_since(load_start);
  std::mt19937 rng(1234);
  std::vector<double> prefill, decode, ttft;
  for (int r = 0; r < a.repetitions; ++r) {
    const Measurement m = run_once(*model, a, rng);
    prefill.push_back(a.prompt / m.prefill_seconds);
    ttft.push_back(m.prefill_seconds);
    if (a.generate > 0) decode.push_back(a.generate / m.decode_seconds);
  }
  const auto [pp, pp_sd] = mean_std(prefill);
  const auto [tg, tg_sd] = mean_std(decode.empty() ? std::vector<double>{0} : decode);
  const auto [first, first_sd] = mean_std(ttft);
  const double per_token = bytes_per_token(*model);
  const double peak = peak_resident_gb();  // before the probe's 1 GiB buffer, which is not the model's
  // The ceiling decode is memory-bound against, measured with the same threads.
  const double ceiling = measure_read_bandwidth_gbs(a.threads);
  const double weight_gbs = tg * per_token / 1e9;
  const double percent = 100.0 * weight_gbs / ceiling;
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"threads", a.threads}, {"prompt_tokens", a.prompt},
                        {"generated_tokens", a.generate}, {"repetitions", a.repetitions},
                        {"load_seconds", load_seconds}, {"prompt_tokens_per_second", pp},
                        {"decode_tokens_per_second", tg}, {"time_to_first_token_seconds", first},
                        {"decode_weight_bytes_per_token", per_token},
                        {"decode_weight_gb_per_second", weight_gbs}, {"read_bandwidth_gbs", ceiling},
                        {"percent_of_read_bandwidth", percent}, {"peak_memory_gb", peak}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("| model | load s | pp%d tok/s | TTFT s | tg%d tok/s | weights GB/token | weight GB/s | read ceiling GB/s "
              "| %% of ceiling | peak GB |\n",
              a.prompt, a.generate);
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %.2f | %.1f ± %.1f | %.3f ± %.3f | %.2f ± %.2f | %.3f | %.2f | %.1f | %.1f | %.2f |\n",
              a.model.c_str(), load_seconds, pp, pp_sd, first, first_sd, tg, tg_sd, per_token / 1e9, weight_gbs, ceiling,
              percent, peak);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure load time, prompt and decode speed, and peak memory");
  cmd->add_option("-m,--model", a->model, "Model directory or Hugging Face repo id")->required();
  cmd->add_option("-p,--n-prompt", a->prompt, "Prompt tokens")->capture_default_str();
  cmd->add_option("-n,--n-gen", a->generate, "Generated tokens")->capture_default_str();
  cmd->add_option("-r,--repetitions", a->repetitions, "Repetitions (mean ± standard deviation)")->capture_default_str();
  add_threads_flag(cmd, a->threads);
  cmd->add_flag("--json", a->json, "Print JSON instead of a table");
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
