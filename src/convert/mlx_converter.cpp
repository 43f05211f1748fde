#include "convert/mlx_converter.h"

#include <cstring>
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/thread_pool.h"
#include "convert/quant_predicate.h"
#include "convert/sharded_writer.h"
#include "gptoss/error.h"
#include "io/checkpoint.h"
#include "io/temporary_file.h"
#include "model/checkpoint_layout.h"
#include "quant/float_formats.h"
#include "quant/mxfp4.h"

namespace gptoss {

namespace fs = std::filesystem;

namespace {

// The float type of everything not quantized (and of affine scales and biases).
struct StorageType {
  DType dtype = DType::BF16;
  std::string name;

  static StorageType parse(const std::string& name) {
    if (name == "bfloat16") return {DType::BF16, name};
    if (name == "float16") return {DType::F16, name};
    if (name == "float32") return {DType::F32, name};
    throw Error("--dtype: '" + name + "' (use bfloat16, float16 or float32)");
  }
  size_t size() const { return dtype_size(dtype); }
  float round(float v) const { return dtype == DType::BF16 ? round_to_bf16(v) : dtype == DType::F16 ? round_to_f16(v) : v; }
  float (*rounder() const)(float) { return dtype == DType::BF16 ? round_to_bf16 : dtype == DType::F16 ? round_to_f16 : identity; }
  static float identity(float v) { return v; }
  void store(const float* in, int64_t n, uint8_t* out) const {
    for (int64_t i = 0; i < n; ++i) {
      if (dtype == DType::F32) {
        std::memcpy(out + 4 * i, &in[i], 4);
        continue;
      }
      const uint16_t h = dtype == DType::BF16 ? f32_to_bf16(in[i]) : f32_to_f16(in[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
  }
};

struct SourceModule {
  std::string path;  // MLX module path, e.g. model.layers.0.mlp.experts.gate_proj
  Matrix weight;
  Vector bias;  // empty when the module has none; [count × rows] for stacks
};

std::vector<int64_t> stacked_shape(const Matrix& m, int64_t last) {
  if (m.count == 1) return {m.rows, last};
  return {m.count, m.rows, last};
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Converter {
 public:
  // `release_source` is called every so often while streaming, to drop the source's pages.
  Converter(const ConvertOptions& options, const StorageType& storage, ThreadPool& pool,
            std::function<void()> release_source)
      : options_(options), storage_(storage), pool_(pool), release_source_(std::move(release_source)) {}

  // The tensors of one module's weight: dense, affine (weight, scales, biases) or mxfp4.
  TensorGroup weight(const SourceModule& m, ModuleQuantization q) {
    const Matrix w = m.weight;
    TensorGroup g;
    const std::string name = m.path + ".weight";
    if (q.kind == ModuleQuantization::Kind::none) {
      g.tensors = {{name, storage_.dtype, stacked_shape(w, w.cols)}};
      g.write = [this, w](SafetensorsWriter& out) {
        const auto encode = [&](const float* row, uint8_t* dst, int64_t, int64_t) { storage_.store(row, w.cols, dst); };
        write_rows(w, out, encode, static_cast<int64_t>(storage_.size()) * w.cols);
      };
      return g;
    }
    const int64_t groups = w.cols / q.group_size;
    const DType scale_dtype = q.kind == ModuleQuantization::Kind::mxfp4 ? DType::U8 : storage_.dtype;
    g.tensors = {{name, DType::U32, stacked_shape(w, w.cols * q.bits / 32)},
                 {m.path + ".scales", scale_dtype, stacked_shape(w, groups)}};
    if (q.kind == ModuleQuantization::Kind::affine) g.tensors.push_back({m.path + ".biases", storage_.dtype, stacked_shape(w, groups)});
    g.write = [this, w, q](SafetensorsWriter& out) {
      if (q.kind == ModuleQuantization::Kind::mxfp4 && w.format == WeightFormat::mxfp4) copy_mxfp4(w, out);
      else quantize(w, q, out);
    };
    return g;
  }

  TensorGroup vector(const std::string& name, Vector v, std::vector<int64_t> shape) {
    TensorGroup g;
    g.tensors = {{name, storage_.dtype, std::move(shape)}};
    g.write = [this, v](SafetensorsWriter& out) {
      std::vector<uint8_t> bytes(static_cast<size_t>(v.size) * storage_.size());
      storage_.store(v.data, v.size, bytes.data());
      out.write(bytes);
    };
    return g;
  }

 private:
  static constexpr int64_t kRowsPerBlock = 64;
  static constexpr int64_t kReleaseEvery = 64 << 20;  // weights decoded between page releases

  // Decodes rows block by block on the pool, encodes each with encode(row, out, matrix, index)
  // into `row_bytes` bytes, and writes the blocks in order.
  template <typename Encode>
  void write_rows(const Matrix& w, SafetensorsWriter& out, Encode encode, int64_t row_bytes) {
    std::vector<uint8_t> block(static_cast<size_t>(kRowsPerBlock * row_bytes));
    for (int64_t e = 0; e < w.count; ++e)
      for (int64_t r0 = 0; r0 < w.rows; r0 += kRowsPerBlock) {
        const int64_t n = std::min(kRowsPerBlock, w.rows - r0);
        pool_.parallel_for(n, 1, [&](int64_t begin, int64_t end, int thread) {
          std::vector<float>& row = pool_.scratch(thread);
          row.resize(static_cast<size_t>(2 * w.cols + 64));  // the row, then encoder scratch
          for (int64_t i = begin; i < end; ++i) {
            dequantize_row(w, e, r0 + i, row.data());
            encode(row.data(), block.data() + i * row_bytes, e, r0 + i);
          }
        });
        out.write({block.data(), static_cast<size_t>(n * row_bytes)});
        decoded_since_release_ += n * w.cols;
        if (decoded_since_release_ > kReleaseEvery) {
          release_source_();
          decoded_since_release_ = 0;
        }
      }
  }

  void quantize(const Matrix& w, ModuleQuantization q, SafetensorsWriter& out) {
    const int64_t groups = w.cols / q.group_size, rows = w.count * w.rows;
    const bool affine = q.kind == ModuleQuantization::Kind::affine;
    const size_t scale_size = affine ? storage_.size() : 1;
    std::vector<uint8_t> scales(static_cast<size_t>(rows * groups) * scale_size), biases(affine ? scales.size() : 0);
    const int64_t row_bytes = w.cols * q.bits / 8;
    write_rows(w, out, [&](float* row, uint8_t* dst, int64_t e, int64_t r) {
      const size_t at = static_cast<size_t>((e * w.rows + r) * groups);
      if (!affine) {
        mxfp4_quantize_mlx(row, w.cols, storage_.rounder(), dst, scales.data() + at);
        return;
      }
      // MLX quantizes the weights as the model dtype holds them.
      for (int64_t k = 0; k < w.cols; ++k) row[k] = storage_.round(row[k]);
      float* s = row + w.cols;  // the row buffer has room for this scratch (see write_rows)
      float* b = s + groups;
      auto* codes = reinterpret_cast<uint8_t*>(b + groups);
      affine_quantize(row, w.cols, q.bits, q.group_size, options_.rounding, codes, s, b);
      affine_pack(codes, w.cols, q.bits, dst);
      storage_.store(s, groups, scales.data() + at * scale_size);
      storage_.store(b, groups, biases.data() + at * scale_size);
    }, row_bytes);
    out.write(scales);
    if (affine) out.write(biases);
  }

  // MXFP4 stays MXFP4: the E2M1 codes are already in MLX's byte order.
  static void copy_mxfp4(const Matrix& w, SafetensorsWriter& out) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t e = 0; e < w.count; ++e)
        for (int64_t r = 0; r < w.rows; ++r) {
          if (pass == 0) out.write({w.weight_row(e, r), static_cast<size_t>(w.cols / 2)});
          else out.write({w.scale_row(e, r), static_cast<size_t>(w.cols / 32)});
        }
  }

  const ConvertOptions& options_;
  const StorageType& storage_;
  ThreadPool& pool_;
  std::function<void()> release_source_;
  int64_t decoded_since_release_ = 0;
};

std::vector<SourceModule> linear_modules(const ModelWeights& w) {
  std::vector<SourceModule> modules = {{"model.embed_tokens", w.embedding, {}}};
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const AttentionWeights& a = w.layers[l].attention;
    const MoeWeights& m = w.layers[l].moe;
    modules.push_back({p + "self_attn.q_proj", a.q, a.q_bias});
    modules.push_back({p + "self_attn.k_proj", a.k, a.k_bias});
    modules.push_back({p + "self_attn.v_proj", a.v, a.v_bias});
    modules.push_back({p + "self_attn.o_proj", a.o, a.o_bias});
    modules.push_back({p + "mlp.router", m.router, m.router_bias});
    modules.push_back({p + "mlp.experts.gate_proj", m.gate, m.gate_bias});
    modules.push_back({p + "mlp.experts.up_proj", m.up, m.up_bias});
    modules.push_back({p + "mlp.experts.down_proj", m.down, m.down_bias});
  }
  modules.push_back({"lm_head", w.lm_head, {}});
  return modules;
}

void copy_side_files(const fs::path& src, const fs::path& dst) {
  for (const auto& entry : fs::directory_iterator(src)) {
    const std::string name = entry.path().filename().string();
    const bool wanted = name.rfind("tokenizer", 0) == 0 || name == "special_tokens_map.json" ||
                        name.rfind("chat_template", 0) == 0 || name == "generation_config.json";
    if (wanted && entry.is_regular_file()) fs::copy_file(entry.path(), dst / name);
  }
}

// "model.layers.12.mlp.router" → "model.layers.*.mlp.router": a module kind across layers.
std::string layer_pattern(const std::string& path) {
  const std::string prefix = "model.layers.";
  if (path.rfind(prefix, 0) != 0) return path;
  const size_t dot = path.find('.', prefix.size());
  return dot == std::string::npos ? path : prefix + "*" + path.substr(dot);
}

nlohmann::json quantization_entry(const ModuleQuantization& q) {
  if (q.kind == ModuleQuantization::Kind::none) return false;
  return {{"group_size", q.group_size}, {"bits", q.bits}, {"mode", q.kind == ModuleQuantization::Kind::mxfp4 ? "mxfp4" : "affine"}};
}

}  // namespace

ConvertSummary convert_to_mlx(const fs::path& src, const fs::path& dst, const ConvertOptions& options) {
  const StorageType storage = StorageType::parse(options.dtype);
  const ModuleQuantization global = options.quantize
                                        ? ModuleQuantization{ModuleQuantization::Kind::affine, options.bits, options.group_size}
                                        : ModuleQuantization{};
  if (options.quantize && (!affine_bits_supported(options.bits) || !affine_group_size_supported(options.group_size)))
    throw Error("--q-bits " + std::to_string(options.bits) + " --q-group-size " + std::to_string(options.group_size) +
                ": MLX affine supports bits 2, 3, 4, 5, 6, 8 and group sizes 32, 64, 128");
  const QuantPredicate predicate(options.quant_predicate, global);
  const auto note = [&](const std::string& text) {
    if (options.note) options.note(text);
  };

  StagingDirectory staging(dst);  // first: refuse an existing output before any work
  const fs::path config_path = src / "config.json";
  const std::string config_text = read_text(config_path);
  const ModelConfig config = parse_config(config_text, config_path.string());
  Checkpoint checkpoint(src);
  VectorStore vectors;
  CheckpointReader reader(checkpoint, vectors);
  const auto layout = detect_layout(checkpoint, config_text, config_path.string());
  const ModelWeights weights = read_gpt_oss_weights(reader, config, *layout);

  ThreadPool pool(options.threads);
  // Converted source pages stay in the page cache, but not in this process's resident set.
  Converter converter(options, storage, pool, [&] { checkpoint.drop_resident_pages(); });
  std::vector<TensorGroup> groups;
  nlohmann::json per_module = nlohmann::json::object();
  ConvertSummary summary;
  std::vector<std::string> too_narrow;  // module kinds, with layer numbers replaced by *
  for (const SourceModule& m : linear_modules(weights)) {
    ModuleQuantization q = options.quantize || !options.quant_predicate.empty() ? predicate.for_module(m.path)
                                                                                  : ModuleQuantization{};
    if (q.kind != ModuleQuantization::Kind::none && m.weight.cols % q.group_size != 0) {
      const std::string kind = layer_pattern(m.path) + " (" + std::to_string(m.weight.cols) + " inputs, group " +
                               std::to_string(q.group_size) + ")";
      if (std::find(too_narrow.begin(), too_narrow.end(), kind) == too_narrow.end()) too_narrow.push_back(kind);
      q = {};
    } else if (!(q == global)) {
      per_module[m.path] = quantization_entry(q);
    }
    summary.affine_modules += q.kind == ModuleQuantization::Kind::affine;
    summary.mxfp4_modules += q.kind == ModuleQuantization::Kind::mxfp4;
    summary.unquantized_modules += q.kind == ModuleQuantization::Kind::none;
    summary.parameters += static_cast<uint64_t>(m.weight.count * m.weight.rows * m.weight.cols + m.bias.size);
    groups.push_back(converter.weight(m, q));
    if (m.bias.data != nullptr)
      groups.push_back(converter.vector(m.path + ".bias", m.bias,
                                        m.weight.count == 1 ? std::vector<int64_t>{m.weight.rows}
                                                            : std::vector<int64_t>{m.weight.count, m.weight.rows}));
  }
  for (size_t l = 0; l < weights.layers.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const LayerWeights& layer = weights.layers[l];
    groups.push_back(converter.vector(p + "input_layernorm.weight", layer.attention.norm, {layer.attention.norm.size}));
    groups.push_back(converter.vector(p + "post_attention_layernorm.weight", layer.moe.norm, {layer.moe.norm.size}));
    groups.push_back(converter.vector(p + "self_attn.sinks", layer.attention.sinks, {layer.attention.sinks.size}));
    summary.parameters += static_cast<uint64_t>(2 * layer.attention.norm.size);
  }
  groups.push_back(converter.vector("model.norm.weight", weights.final_norm, {weights.final_norm.size}));
  summary.parameters += static_cast<uint64_t>(weights.final_norm.size);
  if (!too_narrow.empty()) {
    std::string list;
    for (const auto& k : too_narrow) list += (list.empty() ? "" : ", ") + k;
    note("left unquantized, as mlx-lm does, because the input width is not a multiple of the group size: " + list);
  }

  ShardedWriteOptions write;
  write.max_shard_bytes = options.max_shard_bytes;
  write.metadata = {{"format", "mlx"}};
  write.total_parameters = summary.parameters;
  write.progress = options.progress;
  write_sharded_checkpoint(staging.path(), groups, write);
  for (const auto& g : groups) summary.bytes += g.bytes();

  nlohmann::json out_config = nlohmann::json::parse(config_text);
  out_config.erase("_name_or_path");
  out_config.erase("quantization_config");
  out_config.erase("quantization");
  out_config["torch_dtype"] = storage.name;
  if (options.quantize || !per_module.empty()) {
    nlohmann::json quantization = global.kind == ModuleQuantization::Kind::none
                                      ? nlohmann::json::object()
                                      : nlohmann::json{{"group_size", global.group_size}, {"bits", global.bits}, {"mode", "affine"}};
    for (const auto& [path, entry] : per_module.items()) quantization[path] = entry;
    out_config["quantization"] = quantization;
    out_config["quantization_config"] = quantization;
  }
  write_file_atomically(staging.path() / "config.json", out_config.dump(4) + "\n");  // checked, unlike an ofstream
  copy_side_files(src, staging.path());
  staging.commit();
  return summary;
}

}  // namespace gptoss
