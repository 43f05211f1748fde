// The typed form of a Hugging Face gpt-oss config.json (see docs/FORMATS.md for every key).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gptoss {

enum class AttentionKind { sliding, full };

// RoPE scaling: "default" (plain RoPE) or "yarn" (NTK-by-parts, as gpt-oss uses).
struct RopeScaling {
  std::string type = "default";
  double factor = 1.0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  int original_max_position_embeddings = 0;
  // transformers rounds the YaRN correction range to integers unless `truncate` is false;
  // gpt-oss ships `"truncate": false`. An absent key means true, as in transformers.
  bool truncate = true;
  std::optional<double> attention_factor;  // overrides 0.1·ln(factor) + 1
};

struct ModelConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;  // width of one expert's FFN
  int num_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;
  int num_experts = 0;
  int experts_per_token = 0;
  int sliding_window = 0;
  int max_position_embeddings = 0;
  double rope_theta = 0.0;
  double rms_norm_eps = 1e-5;
  double swiglu_limit = 7.0;
  double swiglu_alpha = 1.702;
  RopeScaling rope_scaling;
  std::vector<AttentionKind> layer_types;  // one per layer
  bool tie_word_embeddings = false;
  std::vector<int> eos_token_ids;
  std::optional<int> pad_token_id;

  // 64-bit so that no product of config values can wrap; parse_config bounds them anyway.
  int64_t query_width() const { return int64_t{num_attention_heads} * head_dim; }
  int64_t kv_width() const { return int64_t{num_key_value_heads} * head_dim; }
};

// Parses config.json text; `origin` names the file in error messages.
ModelConfig parse_config(std::string_view json_text, const std::string& origin);
ModelConfig load_config(const std::filesystem::path& config_json);

}  // namespace gptoss
