// gptoss info: what a model directory holds — its configuration, every tensor's format, and
// the parameter and byte counts.
#include <cstdio>

#include "gptoss/gptoss.h"
#include "tools/model_directory.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void print_config(const ModelConfig& c) {
  int sliding = 0;
  for (auto kind : c.layer_types) sliding += kind == AttentionKind::sliding;
  std::printf("config:\n");
  std::printf("  vocab_size               %d\n", c.vocab_size);
  std::printf("  hidden_size              %d\n", c.hidden_size);
  std::printf("  num_hidden_layers        %d (%d sliding, %d full)\n", c.num_layers, sliding, c.num_layers - sliding);
  std::printf("  attention heads          %d query, %d key/value, head_dim %d\n", c.num_attention_heads,
              c.num_key_value_heads, c.head_dim);
  std::printf("  experts                  %d, %d per token, intermediate_size %d\n", c.num_experts,
              c.experts_per_token, c.intermediate_size);
  std::printf("  sliding_window           %d\n", c.sliding_window);
  std::printf("  rope                     theta %g, %s", c.rope_theta, c.rope_scaling.type.c_str());
  if (c.rope_scaling.type == "yarn")
    std::printf(" (factor %g, beta_fast %g, beta_slow %g, original context %d, truncate %s)", c.rope_scaling.factor,
                c.rope_scaling.beta_fast, c.rope_scaling.beta_slow, c.rope_scaling.original_max_position_embeddings,
                c.rope_scaling.truncate ? "true" : "false");
  std::printf("\n  max_position_embeddings  %d\n", c.max_position_embeddings);
  std::printf("  rms_norm_eps             %g\n", c.rms_norm_eps);
  std::printf("  swiglu                   limit %g, alpha %g\n", c.swiglu_limit, c.swiglu_alpha);
  std::printf("  tie_word_embeddings      %s\n", c.tie_word_embeddings ? "true" : "false");
}

void run(const std::string& dir) {
  const auto model = Model::load(model_directory(dir));
  print_config(model->config());
  const ModelDescription d = model->describe();
  std::printf("\ncheckpoint: %s\n", d.checkpoint_format.c_str());
  std::printf("%-58s %-34s %-24s %14s %14s\n", "tensor", "format", "shape", "parameters", "bytes");
  for (const auto& t : d.tensors)
    std::printf("%-58s %-34s %-24s %14llu %14llu\n", t.name.c_str(), t.format.c_str(), shape_text(t.shape).c_str(),
                static_cast<unsigned long long>(t.parameters), static_cast<unsigned long long>(t.bytes));
  std::printf("\nparameters: %llu (%.3f B)\nbytes:      %llu (%.3f GB)\n", static_cast<unsigned long long>(d.parameters),
              static_cast<double>(d.parameters) / 1e9, static_cast<unsigned long long>(d.bytes),
              static_cast<double>(d.bytes) / 1e9);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model's configuration, tensor formats and size");
  cmd->add_option("-m,--model", *dir, "Model directory or Hugging Face repo id")->required();
  cmd->callback([dir] { run(*dir); });
}

}  // namespace gptoss::tools
