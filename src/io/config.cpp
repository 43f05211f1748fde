// config.json → ModelConfig. Keys follow transformers' GptOssConfig; docs/FORMATS.md lists
// which are required and the defaults of the others.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gptoss/config.h"
#include "gptoss/error.h"

namespace gptoss {
namespace {

using nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const json& doc, const std::string& origin) : doc_(doc), origin_(origin) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(origin_ + ": key '" + key + "' " + what);
  }

  const json* find(const json& obj, const std::string& key) const {
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }

  int positive_int(const json& obj, const std::string& key, const std::string& path) const {
    const json* v = find(obj, key);
    if (v == nullptr) throw Error(origin_ + ": missing key '" + path + "'");
    return to_positive_int(*v, path);
  }

  int to_positive_int(const json& v, const std::string& path) const {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > INT32_MAX)
      fail(path, "must be a positive integer, got " + v.dump());
    return static_cast<int>(v.get<int64_t>());
  }

  int positive_int(const std::string& key) const { return positive_int(doc_, key, key); }

  // The first of `keys` present; they must agree when several are.
  int positive_int_alias(std::initializer_list<std::string> keys) const {
    std::optional<int> value;
    std::string first;
    for (const auto& key : keys) {
      const json* v = find(doc_, key);
      if (v == nullptr) continue;
      const int x = to_positive_int(*v, key);
      if (value && *value != x) fail(key, "(" + std::to_string(x) + ") disagrees with '" + first + "' (" +
                                              std::to_string(*value) + ")");
      if (!value) first = key;
      value = x;
    }
    if (!value) throw Error(origin_ + ": missing key '" + *keys.begin() + "'");
    return *value;
  }

  double number(const json& obj, const std::string& key, const std::string& path,
                std::optional<double> fallback) const {
    const json* v = find(obj, key);
    if (v == nullptr) {
      if (!fallback) throw Error(origin_ + ": missing key '" + path + "'");
      return *fallback;
    }
    if (!v->is_number()) fail(path, "must be a number, got " + v->dump());
    return v->get<double>();
  }

  double number(const std::string& key, std::optional<double> fallback) const {
    return number(doc_, key, key, fallback);
  }

  bool boolean(const json& obj, const std::string& key, const std::string& path, bool fallback) const {
    const json* v = find(obj, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(path, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }

  std::vector<int> int_or_list(const std::string& key) const {
    const json* v = find(doc_, key);
    if (v == nullptr) return {};
    std::vector<int> out;
    if (v->is_number_integer()) {
      out.push_back(v->get<int>());
    } else if (v->is_array()) {
      for (const auto& x : *v) {
        if (!x.is_number_integer()) fail(key, "must hold integers, got " + v->dump());
        out.push_back(x.get<int>());
      }
    } else {
      fail(key, "must be an integer or a list of integers, got " + v->dump());
    }
    return out;
  }

  const json& doc() const { return doc_; }

 private:
  const json& doc_;
  std::string origin_;
};

// `rope_scaling` (transformers 4.x) or `rope_parameters` (5.x, which also carries rope_theta).
void read_rope(const ConfigReader& r, ModelConfig& c) {
  const json* params = r.find(r.doc(), "rope_parameters");
  std::string key = "rope_parameters";
  if (params == nullptr) {
    params = r.find(r.doc(), "rope_scaling");
    key = "rope_scaling";
  }
  if (params != nullptr && !params->is_object()) r.fail(key, "must be an object, got " + params->dump());

  if (r.find(r.doc(), "rope_theta") != nullptr || params == nullptr || r.find(*params, "rope_theta") == nullptr)
    c.rope_theta = r.number("rope_theta", std::nullopt);
  else
    c.rope_theta = r.number(*params, "rope_theta", key + ".rope_theta", std::nullopt);
  if (c.rope_theta <= 1.0) r.fail("rope_theta", "must be greater than 1");
  if (params == nullptr) return;

  const json* type = r.find(*params, "rope_type");
  if (type == nullptr) type = r.find(*params, "type");
  RopeScaling& s = c.rope_scaling;
  s.type = type != nullptr && type->is_string() ? type->get<std::string>() : "default";
  if (s.type == "default") return;
  if (s.type != "yarn") r.fail(key + ".rope_type", "'" + s.type + "' is not supported (only yarn and default)");
  s.factor = r.number(*params, "factor", key + ".factor", std::nullopt);
  s.beta_fast = r.number(*params, "beta_fast", key + ".beta_fast", 32.0);
  s.beta_slow = r.number(*params, "beta_slow", key + ".beta_slow", 1.0);
  s.truncate = r.boolean(*params, "truncate", key + ".truncate", true);
  s.original_max_position_embeddings = static_cast<int>(
      r.number(*params, "original_max_position_embeddings", key + ".original_max_position_embeddings",
               c.max_position_embeddings / s.factor));
  if (r.find(*params, "attention_factor") != nullptr)
    s.attention_factor = r.number(*params, "attention_factor", key + ".attention_factor", std::nullopt);
  if (s.factor < 1.0) r.fail(key + ".factor", "must be at least 1");
  if (s.original_max_position_embeddings <= 0) r.fail(key + ".original_max_position_embeddings", "must be positive");
}

void read_layer_types(const ConfigReader& r, ModelConfig& c) {
  const json* types = r.find(r.doc(), "layer_types");
  if (types == nullptr) {  // transformers' default: even layers slide, odd layers attend fully
    for (int l = 0; l < c.num_layers; ++l)
      c.layer_types.push_back(l % 2 == 0 ? AttentionKind::sliding : AttentionKind::full);
    return;
  }
  if (!types->is_array() || types->size() != static_cast<size_t>(c.num_layers))
    r.fail("layer_types", "must list " + std::to_string(c.num_layers) + " layer types");
  for (const auto& t : *types) {
    if (t == "sliding_attention") c.layer_types.push_back(AttentionKind::sliding);
    else if (t == "full_attention") c.layer_types.push_back(AttentionKind::full);
    else r.fail("layer_types", "has unknown entry " + t.dump());
  }
}

}  // namespace

ModelConfig parse_config(std::string_view json_text, const std::string& origin) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw Error(origin + ": not a JSON object");
  const ConfigReader r(doc, origin);
  if (const json* type = r.find(doc, "model_type"); type != nullptr && *type != "gpt_oss")
    r.fail("model_type", "is " + type->dump() + ", not \"gpt_oss\"");

  ModelConfig c;
  c.vocab_size = r.positive_int("vocab_size");
  c.hidden_size = r.positive_int("hidden_size");
  c.intermediate_size = r.positive_int("intermediate_size");
  c.num_layers = r.positive_int("num_hidden_layers");
  c.num_attention_heads = r.positive_int("num_attention_heads");
  c.num_key_value_heads = r.positive_int("num_key_value_heads");
  c.head_dim = r.find(doc, "head_dim") != nullptr ? r.positive_int("head_dim")
                                                   : c.hidden_size / c.num_attention_heads;
  c.num_experts = r.positive_int_alias({"num_local_experts", "num_experts"});
  c.experts_per_token = r.positive_int_alias({"num_experts_per_tok", "experts_per_token"});
  c.sliding_window = r.positive_int("sliding_window");
  c.max_position_embeddings = r.find(doc, "max_position_embeddings") != nullptr
                                  ? r.positive_int("max_position_embeddings")
                                  : 131072;
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-5);
  c.swiglu_limit = r.number("swiglu_limit", 7.0);
  c.swiglu_alpha = r.number("swiglu_alpha", 1.702);
  c.tie_word_embeddings = r.boolean(doc, "tie_word_embeddings", "tie_word_embeddings", false);
  c.eos_token_ids = r.int_or_list("eos_token_id");
  if (const auto pad = r.int_or_list("pad_token_id"); !pad.empty()) c.pad_token_id = pad.front();
  read_rope(r, c);
  read_layer_types(r, c);

  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.fail("num_key_value_heads", "must divide num_attention_heads");
  if (c.experts_per_token > c.num_experts) r.fail("num_experts_per_tok", "exceeds the number of experts");
  if (c.head_dim % 32 != 0) r.fail("head_dim", "must be a multiple of 32 (gpt-oss: 64)");
  if (!(c.rms_norm_eps > 0)) r.fail("rms_norm_eps", "must be positive");
  if (!(c.swiglu_limit > 0)) r.fail("swiglu_limit", "must be positive");
  return c;
}

ModelConfig load_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json);
  if (!in) throw Error(config_json.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), config_json.string());
}

}  // namespace gptoss
