// gptoss synth: a random-weight checkpoint with the real gpt-oss shapes.
#include <chrono>
#include <cstdio>

#include "convert/synthetic_checkpoint.h"
#include "gptoss/error.h"
#include "runtime/peak_memory.h"
#include "tools/number_checks.h"
#include "tools/progress.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct SynthArgs {
  std::string out;
  std::string format = "hf-mxfp4";
  SynthOptions options;
};

void run(SynthArgs& a) {
  if (a.options.bits == 0 && a.format != "hf-mxfp4") throw Error("--format: '" + a.format + "' (use hf-mxfp4, or --q-bits for MLX)");
  ProgressBar writing("writing"), converting("converting");
  a.options.progress = [&](const std::string& stage, uint64_t done, uint64_t total) {
    if (stage == "writing") writing.update(done, total);
    else {
      writing.finish();
      converting.update(done, total);
    }
  };
  const auto start = std::chrono::steady_clock::now();
  synthesize_checkpoint(a.out, a.options);
  writing.finish();
  converting.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s (%s) in %.1f s, peak memory %.3f GB\n", a.out.c_str(),
              a.options.bits ? ("MLX affine " + std::to_string(a.options.bits) + "-bit group " +
                                std::to_string(a.options.group_size)).c_str()
                             : "Hugging Face, MXFP4 experts",
              seconds, peak_resident_gb());
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight gpt-oss checkpoint with the real shapes");
  cmd->add_option("--config", a->options.config, "20b, 120b, tiny, or a config.json path")->capture_default_str();
  cmd->add_option("--out", a->out, "Output directory (must not exist)")->required();
  cmd->add_option("--format", a->format, "hf-mxfp4: the original Hugging Face layout")->capture_default_str();
  cmd->add_option("--q-bits", a->options.bits, "Write an MLX checkpoint, every Linear affine-quantized at this width");
  cmd->add_option("--q-group-size", a->options.group_size, "Group size of --q-bits")->capture_default_str();
  cmd->add_option("--seed", a->options.seed, "Random seed, 0 to 2^64-1")->capture_default_str()->check(seed_check());
  cmd->add_option("--layers", a->options.layers, "Keep only the first N layers");
  add_threads_flag(cmd, a->options.threads, "Threads");
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
