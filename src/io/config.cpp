// config.json → ModelConfig. Keys follow transformers' GptOssConfig; docs/FORMATS.md lists
// which are required and the defaults of the others.
#include <cmath>
#include <nlohmann/json.hpp>

#include "gptoss/config.h"
#include "gptoss/error.h"
#include "io/json_limits.h"
#include "io/text_file.h"

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
      fail(path, "must be a positive integer, got " + json_excerpt(v));
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
    if (!v->is_number()) fail(path, "must be a number, got " + json_excerpt(*v));
    if (!std::isfinite(v->get<double>())) fail(path, "must be finite");
    return v->get<double>();
  }

  double number(const std::string& key, std::optional<double> fallback) const {
    return number(doc_, key, key, fallback);
  }

  bool boolean(const json& obj, const std::string& key, const std::string& path, bool fallback) const {
    const json* v = find(obj, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(path, "must be true or false, got " + json_excerpt(*v));
    return v->get<bool>();
  }

  std::vector<int> int_or_list(const std::string& key) const {
    const json* v = find(doc_, key);
    if (v == nullptr) return {};
    std::vector<int> out;
    if (v->is_number_integer()) {
      out.push_back(token_id(*v, key));
    } else if (v->is_array()) {
      for (const auto& x : *v) {
        if (!x.is_number_integer()) fail(key, "must hold integers, got " + json_excerpt(x));
        out.push_back(token_id(x, key));
      }
    } else {
      fail(key, "must be an integer or a list of integers, got " + json_excerpt(*v));
    }
    return out;
  }

  int token_id(const json& v, const std::string& key) const {
    if (v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) fail(key, "holds " + json_excerpt(v) + ", not a token id");
    return static_cast<int>(v.get<int64_t>());
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
  if (params != nullptr && !params->is_object()) r.fail(key, "must be an object, got " + json_excerpt(*params));

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
  if (s.factor < 1.0) r.fail(key + ".factor", "must be at least 1");
  const double original = r.number(*params, "original_max_position_embeddings",
                                   key + ".original_max_position_embeddings", c.max_position_embeddings / s.factor);
  // Checked before the conversion, which is undefined for doubles outside int's range.
  if (!(original >= 1.0) || original > c.max_position_embeddings)
    r.fail(key + ".original_max_position_embeddings", "must be between 1 and max_position_embeddings");
  s.original_max_position_embeddings = static_cast<int>(original);
  if (r.find(*params, "attention_factor") != nullptr)
    s.attention_factor = r.number(*params, "attention_factor", key + ".attention_factor", std::nullopt);
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
    else r.fail("layer_types", "has unknown entry " + json_excerpt(t));
  }
}

// Caps on sizes, far above gpt-oss-120b (hidden 2880, 64 heads of 64, 128 experts of 2880, 36
// layers, vocab 201088, context 131072) yet low enough that no product of them overflows 64 bits
// and a hostile config.json is refused before anything is allocated by it.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxWidth = int64_t{1} << 20;  // hidden, intermediate, heads × head_dim
constexpr int64_t kMaxExperts = 4096;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxPositions = int64_t{1} << 24;
constexpr int64_t kMaxMatrixElements = int64_t{1} << 36;  // vocab × hidden, experts × intermediate × hidden

void check_at_most(const ConfigReader& r, const std::string& what, int64_t value, int64_t cap) {
  if (value > cap) r.fail(what, "is " + std::to_string(value) + ", over the limit of " + std::to_string(cap));
}

// Every size the loader and the runtime multiply, checked in 64 bits against the caps above.
void check_sizes(const ConfigReader& r, const ModelConfig& c) {
  check_at_most(r, "num_hidden_layers", c.num_layers, kMaxLayers);
  check_at_most(r, "hidden_size", c.hidden_size, kMaxWidth);
  check_at_most(r, "intermediate_size", c.intermediate_size, kMaxWidth);
  check_at_most(r, "vocab_size", c.vocab_size, kMaxVocab);
  check_at_most(r, "num_local_experts", c.num_experts, kMaxExperts);
  check_at_most(r, "max_position_embeddings", c.max_position_embeddings, kMaxPositions);
  check_at_most(r, "num_attention_heads", c.num_attention_heads, kMaxWidth);
  check_at_most(r, "head_dim", c.head_dim, kMaxWidth);
  if (c.head_dim <= 0) r.fail("head_dim", "(hidden_size / num_attention_heads when absent) must be positive");
  check_at_most(r, "num_attention_heads * head_dim", c.query_width(), kMaxWidth);
  check_at_most(r, "num_key_value_heads", c.num_key_value_heads, c.num_attention_heads);
  check_at_most(r, "vocab_size * hidden_size", int64_t{c.vocab_size} * c.hidden_size, kMaxMatrixElements);
  check_at_most(r, "num_local_experts * intermediate_size * hidden_size",
                int64_t{c.num_experts} * c.intermediate_size * c.hidden_size, kMaxMatrixElements);
  check_at_most(r, "sliding_window", c.sliding_window, c.max_position_embeddings);
}

}  // namespace

ModelConfig parse_config(std::string_view json_text, const std::string& origin) {
  const json doc = parse_untrusted_json(json_text, origin);
  if (!doc.is_object()) throw Error(origin + ": not a JSON object");
  const ConfigReader r(doc, origin);
  if (const json* type = r.find(doc, "model_type"); type != nullptr && *type != "gpt_oss")
    r.fail("model_type", "is " + json_excerpt(*type) + ", not \"gpt_oss\"");

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
  check_sizes(r, c);
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
  return parse_config(read_text_file(config_json, kMaxJsonConfigBytes, "config"), config_json.string());
}

}  // namespace gptoss
