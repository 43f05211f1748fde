#include "model/mlx_layout.h"

#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "io/json_limits.h"

namespace gptoss {

namespace {

using nlohmann::json;

MlxQuantSpec parse_spec(const json& entry, const std::string& key, const std::string& origin,
                        const std::optional<MlxQuantSpec>& defaults) {
  MlxQuantSpec spec = defaults.value_or(MlxQuantSpec{});
  if (entry.is_boolean()) {
    spec.quantized = entry.get<bool>();
    return spec;
  }
  if (!entry.is_object()) throw Error(origin + ": key '" + key + "' must be a bool or an object, got " + json_excerpt(entry));
  spec.quantized = true;
  const auto read_int = [&](const char* name, int& out) {
    if (!entry.contains(name)) return;
    if (!entry[name].is_number_integer()) throw Error(origin + ": key '" + key + "." + name + "' must be an integer");
    out = entry[name].get<int>();
  };
  read_int("bits", spec.bits);
  read_int("group_size", spec.group_size);
  if (entry.contains("mode")) {
    if (!entry["mode"].is_string()) throw Error(origin + ": key '" + key + ".mode' must be a string");
    spec.mode = entry["mode"].get<std::string>();
  }
  if (spec.mode != "affine" && spec.mode != "mxfp4")
    throw Error(origin + ": key '" + key + ".mode' is \"" + spec.mode + "\": gptoss reads affine and mxfp4");
  return spec;
}

std::string spec_text(int bits, int group_size, const std::string& mode) {
  return mode + " " + std::to_string(bits) + "-bit group " + std::to_string(group_size);
}

}  // namespace

MlxLayout::MlxLayout(const std::string& config_json, const std::string& config_origin) : origin_(config_origin) {
  const json doc = parse_untrusted_json(config_json, config_origin);
  if (!doc.is_object()) throw Error(config_origin + ": not a JSON object");
  const auto it = doc.find("quantization");
  if (it == doc.end() || it->is_null()) return;
  if (!it->is_object()) throw Error(config_origin + ": key 'quantization' must be an object");
  json global = json::object();
  for (const auto& [key, value] : it->items())
    if (key == "bits" || key == "group_size" || key == "mode") global[key] = value;
  global_ = parse_spec(global, "quantization", config_origin, std::nullopt);
  for (const auto& [key, value] : it->items())
    if (key != "bits" && key != "group_size" && key != "mode")
      per_module_[key] = parse_spec(value, "quantization." + key, config_origin, global_);
}

Matrix MlxLayout::module(CheckpointReader& r, const std::string& path, int64_t count, int64_t rows, int64_t cols) {
  const auto entry = per_module_.find(path);
  const std::optional<MlxQuantSpec> expected = entry != per_module_.end() ? std::optional(entry->second) : global_;
  if (!r.contains(path + ".scales")) {
    if (entry != per_module_.end() && entry->second.quantized)
      throw Error(origin_ + ": key 'quantization." + path + "' says the module is quantized, but '" + path +
                  ".scales' is missing");
    return r.dense_stack(path, count, rows, cols);
  }
  const Matrix m = r.quantized_matrix(path, count, rows, cols);
  const std::string mode = m.format == WeightFormat::affine ? "affine" : "mxfp4";
  const TensorView weight = r.tensor(path + ".weight");
  if (expected && !expected->quantized)
    r.fail(weight, "is quantized but config.json lists '" + path + "' as not quantized");
  if (expected && (expected->bits != m.bits || expected->group_size != m.group_size || expected->mode != mode))
    r.fail(weight, "is " + spec_text(m.bits, m.group_size, mode) + " by its shapes, but config.json quantization says " +
                       spec_text(expected->bits, expected->group_size, expected->mode));
  return m;
}

Matrix MlxLayout::linear(CheckpointReader& r, const std::string& path, int64_t rows, int64_t cols) {
  return module(r, path, 1, rows, cols);
}

void MlxLayout::experts(CheckpointReader& r, const std::string& p, const ModelConfig& c, MoeWeights& m) {
  const int64_t h = c.hidden_size, e = c.num_experts, i = c.intermediate_size;
  const std::string x = p + "mlp.experts.";
  m.gate = module(r, x + "gate_proj", e, i, h);
  m.up = module(r, x + "up_proj", e, i, h);
  m.down = module(r, x + "down_proj", e, h, i);
  m.gate_bias = r.strided_vector(x + "gate_proj.bias", e, i, 0, 1);
  m.up_bias = r.strided_vector(x + "up_proj.bias", e, i, 0, 1);
  m.down_bias = r.strided_vector(x + "down_proj.bias", e, h, 0, 1);
}

}  // namespace gptoss
