// gptoss convert: a Hugging Face gpt-oss checkpoint → the MLX layout, like `mlx_lm convert`.
#include <chrono>
#include <cstdio>

#include "convert/mlx_converter.h"
#include "gptoss/error.h"
#include "runtime/peak_memory.h"
#include "tools/model_directory.h"
#include "tools/progress.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct ConvertArgs {
  std::string hf_path;
  std::string mlx_path = "mlx_model";
  std::string rounding = "gpu";
  ConvertOptions options;
};

void run(ConvertArgs& a) {
  if (a.rounding != "gpu" && a.rounding != "cpu") throw Error("--rounding: '" + a.rounding + "' (use gpu or cpu)");
  a.options.rounding = a.rounding == "gpu" ? AffineRounding::gpu : AffineRounding::cpu;
  ProgressBar bar("converting");
  a.options.note = [&](const std::string& text) {
    bar.finish();
    std::fprintf(stderr, "note: %s\n", text.c_str());
  };
  a.options.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
  const auto start = std::chrono::steady_clock::now();
  const ConvertSummary s = convert_to_mlx(model_directory(a.hf_path), a.mlx_path, a.options);
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %.3f GB, %.3f B parameters; modules: %d affine, %d mxfp4, %d unquantized\n",
              a.mlx_path.c_str(), static_cast<double>(s.bytes) / 1e9, static_cast<double>(s.parameters) / 1e9,
              s.affine_modules, s.mxfp4_modules, s.unquantized_modules);
  std::printf("time %.1f s, peak memory %.3f GB\n", seconds, peak_resident_gb());
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face gpt-oss checkpoint to the MLX layout (optionally quantized)");
  cmd->add_option("--hf-path,--model", a->hf_path, "Source model directory or Hugging Face repo id")->required();
  cmd->add_option("--mlx-path", a->mlx_path, "Output directory (must not exist)")->capture_default_str();
  cmd->add_flag("-q,--quantize", a->options.quantize, "Quantize with MLX affine quantization");
  cmd->add_option("--q-bits", a->options.bits, "Bits per weight: 2, 3, 4, 5, 6 or 8")->capture_default_str();
  cmd->add_option("--q-group-size", a->options.group_size, "Weights per scale/bias: 32, 64 or 128")->capture_default_str();
  cmd->add_option("--dtype", a->options.dtype, "Type of everything not quantized: bfloat16, float16 or float32")
      ->capture_default_str();
  cmd->add_option("--quant-predicate", a->options.quant_predicate,
                  "Per-module rules GLOB=SPEC,... (SPEC: B, B/G, mxfp4 or none) or the preset mlx-lm");
  cmd->add_option("--rounding", a->rounding, "Quantizer rounding: gpu (MLX's Metal/CUDA kernels) or cpu")
      ->capture_default_str();
  add_threads_flag(cmd, a->options.threads, "Threads");
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
