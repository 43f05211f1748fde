// config.json → ModelConfig for the tiny, 20b and 120b configs and the key variants.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gptoss/config.h"
#include "gptoss/error.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using nlohmann::json;

// The published openai/gpt-oss-20b config.json (docs/FORMATS.md).
json config_20b() {
  json types = json::array();
  for (int i = 0; i < 24; ++i) types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  return {{"architectures", {"GptOssForCausalLM"}}, {"model_type", "gpt_oss"}, {"vocab_size", 201088},
          {"hidden_size", 2880}, {"intermediate_size", 2880}, {"num_hidden_layers", 24},
          {"num_attention_heads", 64}, {"num_key_value_heads", 8}, {"head_dim", 64},
          {"num_local_experts", 32}, {"num_experts_per_tok", 4}, {"experts_per_token", 4},
          {"sliding_window", 128}, {"layer_types", types}, {"rope_theta", 150000},
          {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                            {"original_max_position_embeddings", 4096}, {"truncate", false}}},
          {"max_position_embeddings", 131072}, {"initial_context_length", 4096}, {"rms_norm_eps", 1e-05},
          {"swiglu_limit", 7.0}, {"hidden_act", "silu"}, {"attention_bias", true}, {"tie_word_embeddings", false},
          {"eos_token_id", 200002}, {"pad_token_id", 199999}};
}

ModelConfig parse(const json& j) { return parse_config(j.dump(), "config.json"); }

void expect_error(const json& j, const std::string& needle) {
  try {
    parse(j);
    FAIL() << "no error; expected " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Config, Reads20b) {
  const ModelConfig c = parse(config_20b());
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.num_experts, 32);
  EXPECT_EQ(c.experts_per_token, 4);
  EXPECT_EQ(c.query_width(), 4096);
  EXPECT_EQ(c.kv_width(), 512);
  EXPECT_EQ(c.layer_types[0], AttentionKind::sliding);
  EXPECT_EQ(c.layer_types[1], AttentionKind::full);
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_FALSE(c.rope_scaling.truncate);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.swiglu_limit, 7.0);
  EXPECT_DOUBLE_EQ(c.swiglu_alpha, 1.702);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{200002});
}

TEST(Config, Reads120b) {
  json j = config_20b();
  j["num_hidden_layers"] = 36;
  j["num_local_experts"] = 128;
  json types = json::array();
  for (int i = 0; i < 36; ++i) types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  j["layer_types"] = types;
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.num_layers, 36);
  EXPECT_EQ(c.num_experts, 128);
  EXPECT_EQ(c.layer_types.size(), 36u);
}

TEST(Config, ReadsTheTinyModel) {
  const ModelConfig c = load_config(test::tiny_model_dir() / "config.json");
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.sliding_window, 16);
  EXPECT_EQ(c.num_experts, 8);
}

TEST(Config, RopeParametersOfTransformers5) {
  json j = config_20b();
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 150000}, {"factor", 32.0},
                          {"beta_fast", 32.0}, {"beta_slow", 1.0}, {"original_max_position_embeddings", 4096},
                          {"truncate", false}};
  const ModelConfig c = parse(j);
  EXPECT_DOUBLE_EQ(c.rope_theta, 150000);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32);
  EXPECT_FALSE(c.rope_scaling.truncate);
}

TEST(Config, ExpertKeysEitherSpelling) {
  json j = config_20b();
  j.erase("num_experts_per_tok");
  j.erase("num_local_experts");
  j["num_experts"] = 32;
  EXPECT_EQ(parse(j).experts_per_token, 4);
  EXPECT_EQ(parse(j).num_experts, 32);
  j["num_experts_per_tok"] = 2;
  expect_error(j, "disagrees");
}

TEST(Config, DefaultsWhenOptionalKeysAreAbsent) {
  json j = config_20b();
  for (const char* key : {"layer_types", "rms_norm_eps", "swiglu_limit", "rope_scaling", "eos_token_id"}) j.erase(key);
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.layer_types[2], AttentionKind::sliding);
  EXPECT_EQ(c.layer_types[3], AttentionKind::full);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_scaling.type, "default");
}

TEST(Config, MissingRequiredKeyIsNamed) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "sliding_window", "rope_theta"}) {
    json j = config_20b();
    j.erase(key);
    expect_error(j, std::string("config.json: missing key '") + key + "'");
  }
  json j = config_20b();
  j.erase("num_experts_per_tok");
  j.erase("experts_per_token");
  expect_error(j, "missing key 'num_experts_per_tok'");
}

TEST(Config, WrongTypedKeyIsNamed) {
  json j = config_20b();
  j["hidden_size"] = "2880";
  expect_error(j, "key 'hidden_size' must be a positive integer, got \"2880\"");
  j = config_20b();
  j["rms_norm_eps"] = "small";
  expect_error(j, "key 'rms_norm_eps' must be a number");
  j = config_20b();
  j["rope_scaling"]["truncate"] = "no";
  expect_error(j, "key 'rope_scaling.truncate' must be true or false");
  j = config_20b();
  j["layer_types"][3] = "local";
  expect_error(j, "key 'layer_types' has unknown entry");
  j = config_20b();
  j["layer_types"].erase(0);
  expect_error(j, "key 'layer_types' must list 24");
  j = config_20b();
  j["num_key_value_heads"] = 7;
  expect_error(j, "key 'num_key_value_heads' must divide");
  j = config_20b();
  j["model_type"] = "llama";
  expect_error(j, "key 'model_type' is \"llama\"");
  j = config_20b();
  j["rope_scaling"]["rope_type"] = "dynamic";
  expect_error(j, "'dynamic' is not supported");
}

TEST(Config, HugeHeadsWhoseProductOverflowsAreRefused) {
  // 65536 × 65536 wraps a 32-bit int to 0: zero-row q/k/v tensors that crashed generate.
  json j = config_20b();
  j["num_attention_heads"] = 65536;
  j["num_key_value_heads"] = 65536;
  j["head_dim"] = 65536;
  expect_error(j, "key 'num_attention_heads * head_dim' is 4294967296, over the limit");
}

TEST(Config, EverySizeProductIsBounded) {
  json j = config_20b();
  j["num_hidden_layers"] = 1000000000;
  j.erase("layer_types");
  expect_error(j, "key 'num_hidden_layers' is 1000000000, over the limit of 1024");
  j = config_20b();
  j["vocab_size"] = 1 << 24;
  j["hidden_size"] = 1 << 20;
  expect_error(j, "key 'vocab_size * hidden_size'");
  j = config_20b();
  j["num_local_experts"] = 4096;
  j["intermediate_size"] = 1 << 20;
  j["hidden_size"] = 1 << 16;
  expect_error(j, "key 'num_local_experts * intermediate_size * hidden_size'");
  j = config_20b();
  j["sliding_window"] = 131073;
  expect_error(j, "key 'sliding_window' is 131073, over the limit of 131072");
  j = config_20b();
  j["rope_scaling"]["original_max_position_embeddings"] = 1e300;
  expect_error(j, "key 'rope_scaling.original_max_position_embeddings' must be between 1");
  j = config_20b();
  j["eos_token_id"] = -5;
  expect_error(j, "key 'eos_token_id' holds -5, not a token id");
}

TEST(Config, DerivedHeadDimOfZeroIsRefused) {
  json j = config_20b();
  j.erase("head_dim");
  j["hidden_size"] = 32;  // 32 / 64 heads = 0
  expect_error(j, "key 'head_dim' (hidden_size / num_attention_heads when absent) must be positive");
}

// 100k nested '[' overflowed the stack: nlohmann's dump() in the error message recurses.
TEST(Config, DeeplyNestedValuesAreRefusedWithoutRecursing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const char* key : {"model_type", "eos_token_id", "rope_theta", "hidden_size"}) {
    std::string text = config_20b().dump();
    const std::string needle = std::string("\"") + key + "\":";
    const size_t at = text.find(needle);
    ASSERT_NE(at, std::string::npos) << key;
    const size_t value_end = text.find_first_of(",}", at + needle.size());
    text.replace(at + needle.size(), value_end - at - needle.size(), deep);
    try {
      parse_config(text, "config.json");
      FAIL() << key << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("config.json: JSON nests deeper than 64 levels"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Config, LongValuesAreQuotedShortInMessages) {
  json j = config_20b();
  j["model_type"] = std::string(100000, 'x');
  try {
    parse(j);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    EXPECT_NE(std::string(e.what()).find("key 'model_type' is \"xxx"), std::string::npos) << e.what();
  }
}

TEST(Config, NotJson) {
  EXPECT_THROW(parse_config("{", "config.json"), Error);
  EXPECT_THROW(parse_config("[]", "config.json"), Error);
}

}  // namespace
}  // namespace gptoss
