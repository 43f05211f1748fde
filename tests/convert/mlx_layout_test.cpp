// MLX checkpoints: what convert writes (names, shapes, dtypes, config.json), per-module rules,
// and every kind of malformed quantized tensor giving a one-line error that names it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "convert/mlx_converter.h"
#include "convert/quant_predicate.h"
#include "gptoss/gptoss.h"
#include "io/checkpoint.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expect_one_line_error;
using test::quoted;
using test::run_cli;

fs::path convert_tiny(const fs::path& out, int bits, int group_size, const std::string& predicate = "") {
  ConvertOptions options;
  options.quantize = bits > 0;
  options.bits = bits;
  options.group_size = group_size;
  options.quant_predicate = predicate;
  convert_to_mlx(test::tiny_model_dir(), out, options);
  return out;
}

json read_json(const fs::path& p) { return json::parse(test::read_file(p)); }

TEST(MlxConvert, WritesTheMlxLayoutAndConfig) {
  test::TempDir dir;
  const fs::path out = convert_tiny(dir / "q5", 5, 32);
  const json config = read_json(out / "config.json");
  EXPECT_EQ(config["quantization"], (json{{"group_size", 32}, {"bits", 5}, {"mode", "affine"}}));
  EXPECT_EQ(config["quantization_config"], config["quantization"]);
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors.index.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const Checkpoint c(out);
  EXPECT_EQ(c.files().front()->header().metadata.at("format"), "mlx");
  const auto weight = c.tensor("model.layers.0.mlp.experts.down_proj.weight");
  EXPECT_EQ(weight.dtype(), DType::U32);
  EXPECT_EQ(weight.shape(), (std::vector<int64_t>{8, 32, 64 * 5 / 32}));
  EXPECT_EQ(c.tensor("model.layers.0.mlp.experts.down_proj.scales").shape(), (std::vector<int64_t>{8, 32, 2}));
  EXPECT_EQ(c.tensor("model.layers.0.mlp.experts.gate_proj.bias").shape(), (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(c.tensor("model.embed_tokens.biases").dtype(), DType::BF16);
  EXPECT_FALSE(c.contains("lm_head.bias"));
  const auto index = read_json(out / "model.safetensors.index.json");
  EXPECT_EQ(index["weight_map"].size(), c.names().size());
  EXPECT_GT(index["metadata"]["total_parameters"].get<uint64_t>(), 0u);
}

TEST(MlxConvert, LeavesMatricesNarrowerThanTheGroupUnquantizedAndSaysSo) {
  // Hidden size 32: at group size 64 only o_proj (256 inputs) and down_proj (64) quantize.
  test::TempDir dir;
  const auto r = run_cli("convert --hf-path " + quoted(test::tiny_model_dir()) + " --mlx-path " + quoted(dir / "g64") +
                         " -q --q-bits 4 --q-group-size 64");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: left unquantized"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.layers.*.self_attn.q_proj (32 inputs, group 64)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("o_proj"), std::string::npos) << r.err;
  const Checkpoint c(dir / "g64");
  EXPECT_TRUE(c.contains("model.layers.0.self_attn.o_proj.scales"));
  EXPECT_TRUE(c.contains("model.layers.0.mlp.experts.down_proj.scales"));
  EXPECT_FALSE(c.contains("model.layers.0.self_attn.q_proj.scales"));
  EXPECT_FALSE(c.contains("model.layers.0.mlp.experts.gate_proj.scales"));
  EXPECT_FALSE(c.contains("lm_head.scales"));
  EXPECT_EQ(c.tensor("lm_head.weight").dtype(), DType::BF16);
  EXPECT_NO_THROW(Model::load(dir / "g64"));
}

TEST(MlxConvert, MlxLmPresetKeepsExpertsMxfp4) {
  test::TempDir dir;
  const fs::path out = convert_tiny(dir / "mixed", 4, 32, "mlx-lm");
  const json q = read_json(out / "config.json")["quantization"];
  EXPECT_FALSE(q.contains("model.layers.1.mlp.router"));  // 32 inputs: too narrow for group 64
  EXPECT_EQ(q["model.layers.1.mlp.experts.up_proj"], (json{{"group_size", 32}, {"bits", 4}, {"mode", "mxfp4"}}));
  const Checkpoint c(out);
  EXPECT_EQ(c.tensor("model.layers.1.mlp.experts.up_proj.scales").dtype(), DType::U8);
  EXPECT_FALSE(c.contains("model.layers.1.mlp.experts.up_proj.biases"));
  // The router's 32 inputs are not a multiple of 64: it stays unquantized; the experts' MXFP4
  // bytes are copied, so their logits are exactly the original's.
  EXPECT_FALSE(c.contains("model.layers.1.mlp.router.scales"));
  const auto original = Model::load(test::tiny_model_dir());
  const auto mixed = Model::load(out);
  EXPECT_NE(mixed->describe().checkpoint_format.find("MLX"), std::string::npos);
  const std::vector<int32_t> tokens = {976, 4853, 19705, 68347};
  const SessionOptions exact{.kv = {.precision = KvPrecision::f32}};
  Session a(*original, exact), b(*mixed, exact);
  const SequenceInput input{0, tokens, LogitsWanted::last};
  const Logits la = a.forward({&input, 1}), lb = b.forward({&input, 1});
  EXPECT_GT(test::relative_l2(lb.row(0), la.row(0), static_cast<size_t>(la.vocab)), 0.0);  // the rest is 4-bit
}

TEST(MlxConvert, UnquantizedConversionIsExact) {
  test::TempDir dir;
  const fs::path out = convert_tiny(dir / "bf16", 0, 32);
  EXPECT_FALSE(read_json(out / "config.json").contains("quantization"));
  const auto original = Model::load(test::tiny_model_dir());
  const auto converted = Model::load(out);
  const std::vector<int32_t> tokens = {976, 4853, 19705, 68347};
  const SessionOptions exact{.kv = {.precision = KvPrecision::f32}};
  Session a(*original, exact), b(*converted, exact);
  const SequenceInput input{0, tokens, LogitsWanted::all};
  EXPECT_EQ(a.forward({&input, 1}).values, b.forward({&input, 1}).values);  // MXFP4 → bf16 is exact
}

TEST(QuantPredicate, RulesPresetsAndErrors) {
  const QuantPredicate p("*.router=8/64,*.experts.down_proj=none,lm_head=6", {ModuleQuantization::Kind::affine, 5, 32});
  EXPECT_EQ(p.for_module("model.layers.3.mlp.router"), (ModuleQuantization{ModuleQuantization::Kind::affine, 8, 64}));
  EXPECT_EQ(p.for_module("model.layers.3.mlp.experts.down_proj"), ModuleQuantization{});
  EXPECT_EQ(p.for_module("lm_head"), (ModuleQuantization{ModuleQuantization::Kind::affine, 6, 32}));
  EXPECT_EQ(p.for_module("model.embed_tokens"), (ModuleQuantization{ModuleQuantization::Kind::affine, 5, 32}));
  EXPECT_THROW(QuantPredicate("router", {}), Error);
  EXPECT_THROW(QuantPredicate("*=7", {}), Error);
  EXPECT_THROW(QuantPredicate("*=4/48", {}), Error);
  EXPECT_THROW(QuantPredicate("*=x", {}), Error);
}

TEST(MlxConvert, RefusesAnExistingOutputAndLeavesNothingOnFailure) {
  test::TempDir dir;
  fs::create_directories(dir / "exists");
  expect_one_line_error(run_cli("convert --hf-path " + quoted(test::tiny_model_dir()) + " --mlx-path " +
                                quoted(dir / "exists") + " -q"),
                        {"already exists"});
  expect_one_line_error(run_cli("convert --hf-path " + quoted(dir / "nowhere") + " --mlx-path " + quoted(dir / "out")),
                        {"nowhere"});
  expect_one_line_error(run_cli("convert --hf-path " + quoted(test::tiny_model_dir()) + " --mlx-path " +
                                quoted(dir / "out") + " -q --q-bits 7"),
                        {"--q-bits 7"});
  EXPECT_FALSE(fs::exists(dir / "out"));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find("partial"), std::string::npos) << entry.path();
}

// ---- malformed MLX checkpoints

class MlxBadInput : public ::testing::Test {
 protected:
  void SetUp() override { convert_tiny(model_, 5, 32); }
  fs::path shard() const { return model_ / "model.safetensors"; }
  test::CommandResult info() const { return run_cli("info --model " + quoted(model_)); }

  test::TempDir dir_;
  fs::path model_ = dir_ / "q5";
};

TEST_F(MlxBadInput, TruncatedPackedTensor) {
  // o_proj packs 256 inputs at 5 bits into 40 words; 39 words fit no bit width.
  test::reshape_tensor(shard(), "model.layers.2.self_attn.o_proj.weight", {32, 39});
  expect_one_line_error(info(), {"model.layers.2.self_attn.o_proj.weight", "39 words per row", "truncated"});
}

TEST_F(MlxBadInput, ScalesOfTheWrongShape) {
  test::reshape_tensor(shard(), "model.layers.2.self_attn.o_proj.scales", {31, 8});
  expect_one_line_error(info(), {"model.layers.2.self_attn.o_proj.scales", "has shape [31, 8], expected [32, 8]"});
}

TEST_F(MlxBadInput, GroupSizeNotDerivable) {
  test::reshape_tensor(shard(), "model.layers.2.self_attn.o_proj.scales", {32, 3});
  test::reshape_tensor(shard(), "model.layers.2.self_attn.o_proj.biases", {32, 3});
  expect_one_line_error(info(), {"model.layers.2.self_attn.o_proj.scales", "no group size divides 256"});
}

TEST_F(MlxBadInput, BitsThatMlxDoesNotDefine) {
  // 7 words for 32 inputs would be 7-bit.
  test::reshape_tensor(shard(), "model.layers.0.self_attn.k_proj.weight", {128, 4});
  test::edit_safetensors_header(shard(), [](json& h) { h["model.layers.0.self_attn.k_proj.weight"]["shape"] = {128, 7}; 
    h["model.layers.0.self_attn.k_proj.weight"]["data_offsets"][1] = h["model.layers.0.self_attn.k_proj.weight"]["data_offsets"][0].get<uint64_t>() + 128 * 7 * 4; });
  const auto r = info();
  ASSERT_NE(r.exit_code, 0);
  // Either the 7-bit weight or, if its bytes now overlap the next tensor, the overlap is named.
  EXPECT_TRUE(r.err.find("7-bit") != std::string::npos || r.err.find("overlap") != std::string::npos) << r.err;
}

TEST_F(MlxBadInput, UnsupportedMode) {
  // Float scales without biases is no MLX mode; U8 scales at 5 bits would be an fp mode.
  test::edit_safetensors_header(shard(), [](json& h) { h.erase("model.layers.1.self_attn.v_proj.biases"); });
  auto index = read_json(model_ / "model.safetensors.index.json");
  index["weight_map"].erase("model.layers.1.self_attn.v_proj.biases");
  test::write_file(model_ / "model.safetensors.index.json", index.dump());
  expect_one_line_error(info(), {"model.layers.1.self_attn.v_proj.scales", "no biases: not an MLX mode"});
}

TEST_F(MlxBadInput, ConfigDisagreesWithTheTensors) {
  auto config = read_json(model_ / "config.json");
  config["quantization"]["bits"] = 4;
  test::write_file(model_ / "config.json", config.dump());
  expect_one_line_error(info(), {"model.embed_tokens.weight", "affine 5-bit group 32 by its shapes",
                                 "config.json quantization says affine 4-bit group 32"});
  config["quantization"] = {{"bits", 5}, {"group_size", 32}, {"mode", "nvfp4"}};
  test::write_file(model_ / "config.json", config.dump());
  expect_one_line_error(info(), {"quantization.mode", "nvfp4"});
  config["quantization"] = {{"bits", 5}, {"group_size", 32}, {"model.layers.0.mlp.router", false}};
  test::write_file(model_ / "config.json", config.dump());
  expect_one_line_error(info(), {"model.layers.0.mlp.router.weight", "lists 'model.layers.0.mlp.router' as not quantized"});
}

// ---- a 20b-shaped checkpoint (two layers) through synth and convert

TEST(MlxConvert, TwentyBShapedCheckpointHasTheNamesShapesAndDtypesOfMlxLm) {
  test::TempDir dir;
  const auto synth = run_cli("synth --config 20b --layers 2 --out " + quoted(dir / "hf"));
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const auto convert = run_cli("convert --hf-path " + quoted(dir / "hf") + " --mlx-path " + quoted(dir / "q5") +
                               " -q --q-bits 5 --q-group-size 32");
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  fs::remove_all(dir / "hf");

  // mlx-format.md §3.2, halley-ai/gpt-oss-20b-MLX-5bit-gs32: 35 tensors per layer plus 7.
  std::map<std::string, std::pair<DType, std::vector<int64_t>>> expected = {
      {"model.embed_tokens.weight", {DType::U32, {201088, 450}}},
      {"model.embed_tokens.scales", {DType::BF16, {201088, 90}}},
      {"model.embed_tokens.biases", {DType::BF16, {201088, 90}}},
      {"model.norm.weight", {DType::BF16, {2880}}},
      {"lm_head.weight", {DType::U32, {201088, 450}}},
      {"lm_head.scales", {DType::BF16, {201088, 90}}},
      {"lm_head.biases", {DType::BF16, {201088, 90}}}};
  const auto quantized = [&](const std::string& path, std::vector<int64_t> lead, int64_t in, bool bias) {
    std::vector<int64_t> w = lead, s = lead;
    w.push_back(in * 5 / 32);
    s.push_back(in / 32);
    expected[path + ".weight"] = {DType::U32, w};
    expected[path + ".scales"] = {DType::BF16, s};
    expected[path + ".biases"] = {DType::BF16, s};
    if (bias) expected[path + ".bias"] = {DType::BF16, lead};
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    expected[p + "input_layernorm.weight"] = {DType::BF16, {2880}};
    expected[p + "post_attention_layernorm.weight"] = {DType::BF16, {2880}};
    expected[p + "self_attn.sinks"] = {DType::BF16, {64}};
    quantized(p + "self_attn.q_proj", {4096}, 2880, true);
    quantized(p + "self_attn.k_proj", {512}, 2880, true);
    quantized(p + "self_attn.v_proj", {512}, 2880, true);
    quantized(p + "self_attn.o_proj", {2880}, 4096, true);
    quantized(p + "mlp.router", {32}, 2880, true);
    for (const char* e : {"gate_proj", "up_proj", "down_proj"}) quantized(p + "mlp.experts." + e, {32, 2880}, 2880, true);
  }
  ASSERT_EQ(expected.size(), 2u * 35 + 7);
  const Checkpoint c(dir / "q5");
  EXPECT_EQ(c.names().size(), expected.size());
  for (const auto& [name, spec] : expected) {
    ASSERT_TRUE(c.contains(name)) << name;
    EXPECT_EQ(c.tensor(name).dtype(), spec.first) << name;
    EXPECT_EQ(c.tensor(name).shape(), spec.second) << name;
  }

  const auto model = Model::load(dir / "q5");
  Session session(*model, {.max_sequences = 1, .context_length = 8, .kv = {.precision = KvPrecision::f32}});
  const std::vector<int32_t> tokens = {200006, 1428, 200008};
  const SequenceInput input{0, tokens, LogitsWanted::last};
  const Logits logits = session.forward({&input, 1});
  for (int64_t i = 0; i < logits.vocab; ++i) ASSERT_TRUE(std::isfinite(logits.row(0)[i])) << i;
}

}  // namespace
}  // namespace gptoss
