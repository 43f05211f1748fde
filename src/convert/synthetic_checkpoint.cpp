#include "convert/synthetic_checkpoint.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "convert/mlx_converter.h"
#include "convert/sharded_writer.h"
#include "gptoss/config.h"
#include "gptoss/error.h"
#include "io/temporary_file.h"
#include "io/json_limits.h"
#include "io/text_file.h"
#include "quant/float_formats.h"

namespace gptoss {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json builtin_config(const std::string& name) {
  if (name != "20b" && name != "120b" && name != "tiny") {
    std::error_code ec;
    if (!fs::exists(name, ec))
      throw Error("--config: '" + name + "' is neither 20b, 120b, tiny nor a readable config.json");
    return parse_untrusted_json(read_text_file(name, kMaxJsonConfigBytes, "config"), name);
  }
  const bool tiny = name == "tiny";
  const int layers = name == "120b" ? 36 : tiny ? 4 : 24;
  json c = {{"architectures", {"GptOssForCausalLM"}}, {"model_type", "gpt_oss"}, {"vocab_size", 201088},
            {"hidden_size", tiny ? 32 : 2880}, {"intermediate_size", tiny ? 64 : 2880}, {"num_hidden_layers", layers},
            {"num_attention_heads", tiny ? 4 : 64}, {"num_key_value_heads", tiny ? 2 : 8}, {"head_dim", 64},
            {"num_local_experts", name == "120b" ? 128 : tiny ? 8 : 32}, {"num_experts_per_tok", 4},
            {"experts_per_token", 4}, {"sliding_window", tiny ? 16 : 128}, {"rope_theta", 150000},
            {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                              {"original_max_position_embeddings", 4096}, {"truncate", false}}},
            {"max_position_embeddings", 131072}, {"initial_context_length", 4096}, {"rms_norm_eps", 1e-05},
            {"swiglu_limit", 7.0}, {"hidden_act", "silu"}, {"attention_bias", true}, {"attention_dropout", 0.0},
            {"tie_word_embeddings", false}, {"eos_token_id", 200002}, {"pad_token_id", 199999},
            {"torch_dtype", "bfloat16"}, {"use_cache", true}};
  json types = json::array();
  for (int l = 0; l < layers; ++l) types.push_back(l % 2 == 0 ? "sliding_attention" : "full_attention");
  c["layer_types"] = types;
  return c;
}

// SplitMix64 (Steele, Lea, Flood 2014): fast, and good enough for random weights.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [−1, 1): spread √(1/3).
  float symmetric() { return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) / static_cast<float>(1 << 23); }
};

uint64_t seed_for(uint64_t seed, const std::string& name) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;  // FNV-1a over the tensor name
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

constexpr size_t kChunk = 1 << 20;  // elements generated at a time

// bf16 values mean + uniform noise of standard deviation `stddev`.
TensorGroup bf16_tensor(const std::string& name, std::vector<int64_t> shape, float mean, float stddev, uint64_t seed) {
  TensorGroup g;
  g.tensors = {{name, DType::BF16, std::move(shape)}};
  const uint64_t count = g.tensors[0].bytes() / 2;
  g.write = [=](SafetensorsWriter& out) {
    Random rng{seed_for(seed, name)};
    std::vector<uint16_t> chunk(kChunk);
    const float amplitude = stddev * std::sqrt(3.f);
    for (uint64_t done = 0; done < count; done += kChunk) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, count - done));
      for (size_t i = 0; i < n; ++i) chunk[i] = f32_to_bf16(mean + amplitude * rng.symmetric());
      out.write({reinterpret_cast<const uint8_t*>(chunk.data()), 2 * n});
    }
  };
  return g;
}

// Random bytes; with `spread` > 0 each byte is `base` + a value below `spread` (E8M0 scales).
TensorGroup u8_tensor(const std::string& name, std::vector<int64_t> shape, uint8_t base, uint8_t spread, uint64_t seed) {
  TensorGroup g;
  g.tensors = {{name, DType::U8, std::move(shape)}};
  const uint64_t count = g.tensors[0].bytes();
  g.write = [=](SafetensorsWriter& out) {
    Random rng{seed_for(seed, name)};
    std::vector<uint8_t> chunk(kChunk);
    for (uint64_t done = 0; done < count; done += kChunk) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, count - done));
      for (size_t i = 0; i < n; i += 8) {
        const uint64_t r = rng.next();
        for (size_t j = 0; j < 8 && i + j < n; ++j) {
          const auto byte = static_cast<uint8_t>(r >> (8 * j));
          chunk[i + j] = spread > 0 ? static_cast<uint8_t>(base + byte % spread) : byte;
        }
      }
      out.write({chunk.data(), n});
    }
  };
  return g;
}

// The original Hugging Face layout of docs/FORMATS.md, with spreads like the tiny model's.
std::vector<TensorGroup> hf_tensors(const ModelConfig& c, uint64_t seed) {
  const int64_t v = c.vocab_size, h = c.hidden_size, q = c.query_width(), kv = c.kv_width(), e = c.num_experts,
                i = c.intermediate_size;
  const float inv_h = 1.f / std::sqrt(static_cast<float>(h));
  std::vector<TensorGroup> t;
  t.push_back(bf16_tensor("model.embed_tokens.weight", {v, h}, 0.f, 1.f, seed));
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back(bf16_tensor(p + "input_layernorm.weight", {h}, 1.f, 0.1f, seed));
    t.push_back(bf16_tensor(p + "self_attn.q_proj.weight", {q, h}, 0.f, 1.5f * inv_h, seed));
    t.push_back(bf16_tensor(p + "self_attn.q_proj.bias", {q}, 0.f, 0.1f, seed));
    t.push_back(bf16_tensor(p + "self_attn.k_proj.weight", {kv, h}, 0.f, 1.5f * inv_h, seed));
    t.push_back(bf16_tensor(p + "self_attn.k_proj.bias", {kv}, 0.f, 0.1f, seed));
    t.push_back(bf16_tensor(p + "self_attn.v_proj.weight", {kv, h}, 0.f, inv_h, seed));
    t.push_back(bf16_tensor(p + "self_attn.v_proj.bias", {kv}, 0.f, 0.1f, seed));
    t.push_back(bf16_tensor(p + "self_attn.o_proj.weight", {h, q}, 0.f, 0.5f / std::sqrt(static_cast<float>(q)), seed));
    t.push_back(bf16_tensor(p + "self_attn.o_proj.bias", {h}, 0.f, 0.05f, seed));
    t.push_back(bf16_tensor(p + "self_attn.sinks", {c.num_attention_heads}, 0.f, 1.f, seed));
    t.push_back(bf16_tensor(p + "post_attention_layernorm.weight", {h}, 1.f, 0.1f, seed));
    t.push_back(bf16_tensor(p + "mlp.router.weight", {e, h}, 0.f, inv_h, seed));
    t.push_back(bf16_tensor(p + "mlp.router.bias", {e}, 0.f, 0.3f, seed));
    // E2M1 codes have an rms of about 2.9; scales 2^-7..2^-5 give weights of the usual spread.
    t.push_back(u8_tensor(p + "mlp.experts.gate_up_proj_blocks", {e, 2 * i, h / 32, 16}, 0, 0, seed));
    t.push_back(u8_tensor(p + "mlp.experts.gate_up_proj_scales", {e, 2 * i, h / 32}, 120, 3, seed));
    t.push_back(bf16_tensor(p + "mlp.experts.gate_up_proj_bias", {e, 2 * i}, 0.f, 0.3f, seed));
    t.push_back(u8_tensor(p + "mlp.experts.down_proj_blocks", {e, h, i / 32, 16}, 0, 0, seed));
    t.push_back(u8_tensor(p + "mlp.experts.down_proj_scales", {e, h, i / 32}, 118, 3, seed));
    t.push_back(bf16_tensor(p + "mlp.experts.down_proj_bias", {e, h}, 0.f, 0.05f, seed));
  }
  t.push_back(bf16_tensor("model.norm.weight", {h}, 1.f, 0.1f, seed));
  t.push_back(bf16_tensor("lm_head.weight", {v, h}, 0.f, 2.f * inv_h, seed));
  return t;
}

// Checked through the close: an ofstream on a full disk reported success and left it empty.
void write_json(const fs::path& path, const json& value) { write_file_atomically(path, value.dump(2) + "\n"); }

void write_hf_checkpoint(const fs::path& dir, const json& config_json, const SynthOptions& options) {
  const ModelConfig config = parse_config(config_json.dump(), "config.json");
  StagingDirectory staging(dir);
  ShardedWriteOptions write;
  write.metadata = {{"format", "pt"}};
  write.progress = [&](uint64_t done, uint64_t total) {
    if (options.progress) options.progress("writing", done, total);
  };
  write_sharded_checkpoint(staging.path(), hf_tensors(config, options.seed), write);
  json c = config_json;
  c["quantization_config"] = {{"quant_method", "mxfp4"},
                              {"modules_to_not_convert",
                               {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}}};
  write_json(staging.path() / "config.json", c);
  write_json(staging.path() / "generation_config.json",
             {{"bos_token_id", 199998}, {"do_sample", true}, {"eos_token_id", {200002, 199999, 200012}},
              {"pad_token_id", 199999}});
  staging.commit();
}

}  // namespace

std::string synthetic_config_json(const std::string& name, int layers) {
  json c = builtin_config(name);
  if (layers > 0) {
    if (!c.contains("num_hidden_layers") || !c["num_hidden_layers"].is_number_integer() ||
        layers > c["num_hidden_layers"].get<int>())
      throw Error("--layers " + std::to_string(layers) + ": the configuration has fewer layers");
    c["num_hidden_layers"] = layers;
    if (c.contains("layer_types") && c["layer_types"].is_array()) c["layer_types"].erase(c["layer_types"].begin() + layers, c["layer_types"].end());
  }
  c.erase("quantization_config");
  c.erase("quantization");
  parse_config(c.dump(), "config.json");  // validates it
  return c.dump();
}

void synthesize_checkpoint(const fs::path& out, const SynthOptions& options) {
  const json config = json::parse(synthetic_config_json(options.config, options.layers));
  if (options.bits == 0) {
    write_hf_checkpoint(out, config, options);
    return;
  }
  // An MLX checkpoint is the conversion of a synthetic original one, made next to `out`.
  const fs::path source = out.string() + ".synth-source-" + std::to_string(::getpid());
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{source};
  write_hf_checkpoint(source, config, options);
  ConvertOptions convert;
  convert.quantize = true;
  convert.bits = options.bits;
  convert.group_size = options.group_size;
  convert.threads = options.threads;
  convert.progress = [&](uint64_t done, uint64_t total) {
    if (options.progress) options.progress("converting", done, total);
  };
  convert_to_mlx(source, out, convert);
}

}  // namespace gptoss
