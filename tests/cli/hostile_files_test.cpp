// Hostile model directories and inputs (issue 10): every one ends in one line
// "gptoss: error: ..." naming the file or key at fault, never a crash, a hang or a bare
// std::bad_alloc.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::quoted;
using test::run_cli;

const std::string kDeep = std::string(100000, '[') + std::string(100000, ']');

class HostileFiles : public ::testing::Test {
 protected:
  void SetUp() override { test::copy_tiny_model(model_); }
  std::string info() const { return "info --model " + quoted(model_); }
  std::string generate() const { return "generate --model " + quoted(model_) + " --prompt-tokens 976,4853 --max-tokens 2"; }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto config = nlohmann::json::parse(test::read_file(model_ / "config.json"));
    edit(config);
    test::write_file(model_ / "config.json", config.dump());
  }

  test::TempDir dir_;
  fs::path model_ = dir_ / "model";
};

// 65536 heads of 65536: q/k/v widths wrapped to 0 in 32 bits; info accepted it and generate
// crashed in rope_rows.
TEST_F(HostileFiles, HeadProductsThatOverflowAreRefused) {
  edit_config([](nlohmann::json& c) {
    c["num_attention_heads"] = 65536;
    c["num_key_value_heads"] = 65536;
    c["head_dim"] = 65536;
  });
  expect_one_line_error(run_cli(info()), {"config.json", "num_attention_heads * head_dim"});
  expect_one_line_error(run_cli(generate()), {"config.json", "num_attention_heads * head_dim"});
}

TEST_F(HostileFiles, ABillionLayersFailAtOnce) {
  edit_config([](nlohmann::json& c) {
    c["num_hidden_layers"] = 1000000000;
    c.erase("layer_types");
  });
  expect_one_line_error(run_cli(info()), {"config.json", "num_hidden_layers", "over the limit of 1024"});
}

TEST_F(HostileFiles, MoreLayersThanTheCheckpointHoldsNamesTheLastLayer) {
  edit_config([](nlohmann::json& c) {
    c["num_hidden_layers"] = 1000;
    c.erase("layer_types");
  });
  expect_one_line_error(run_cli(info()), {"num_hidden_layers = 1000", "model.layers.999.input_layernorm.weight"});
}

TEST_F(HostileFiles, AFifoConfigIsRefusedNotWaitedOn) {
  fs::remove(model_ / "config.json");
  ASSERT_EQ(::mkfifo((model_ / "config.json").c_str(), 0600), 0);
  expect_one_line_error(run_cli(info()), {"config.json: config is not a regular file"});
}

TEST_F(HostileFiles, AnOversizedConfigIsRefused) {
  test::write_file(model_ / "config.json", std::string(17 << 20, ' '));
  expect_one_line_error(run_cli(info()), {"config.json: config is", "over the limit of 16 MiB"});
}

TEST_F(HostileFiles, DeeplyNestedConfigValues) {
  const std::string config = test::read_file(model_ / "config.json");
  for (const std::string key : {"model_type", "eos_token_id", "rope_theta"}) {
    auto doc = nlohmann::json::parse(config);
    doc[key] = "DEEP";
    std::string text = doc.dump();
    text.replace(text.find("\"DEEP\""), 6, kDeep);
    test::write_file(model_ / "config.json", text);
    expect_one_line_error(run_cli(info()), {"config.json: JSON nests deeper than 64 levels"});
  }
}

TEST_F(HostileFiles, DeeplyNestedGenerationConfig) {
  test::write_file(model_ / "generation_config.json", "{\"eos_token_id\": " + kDeep + "}");
  expect_one_line_error(run_cli(generate()), {"generation_config.json: JSON nests deeper than 64 levels"});
}

TEST_F(HostileFiles, DeeplyNestedIndex) {
  test::write_file(model_ / "model.safetensors.index.json", "{\"weight_map\": " + kDeep + "}");
  expect_one_line_error(run_cli(info()), {"model.safetensors.index.json: JSON nests deeper than 64 levels"});
}

TEST_F(HostileFiles, SynthConfigThatIsDeepOrAFifo) {
  test::write_file(dir_ / "deep.json", "{\"model_type\": " + kDeep + "}");
  expect_one_line_error(run_cli("synth --config " + quoted(dir_ / "deep.json") + " --out " + quoted(dir_ / "a")),
                        {"deep.json: JSON nests deeper than 64 levels"});
  ASSERT_EQ(::mkfifo((dir_ / "fifo.json").c_str(), 0600), 0);
  expect_one_line_error(run_cli("synth --config " + quoted(dir_ / "fifo.json") + " --out " + quoted(dir_ / "b")),
                        {"fifo.json: config is not a regular file"});
}

// `perplexity -f /dev/zero` read without end; a FIFO waited for a writer.
TEST_F(HostileFiles, PerplexityDataThatIsNotARegularFile) {
  expect_one_line_error(run_cli("perplexity --model " + quoted(model_) + " -f /dev/zero"),
                        {"/dev/zero: data file is not a regular file"});
  ASSERT_EQ(::mkfifo((dir_ / "text.fifo").c_str(), 0600), 0);
  expect_one_line_error(run_cli("perplexity --model " + quoted(model_) + " -f " + quoted(dir_ / "text.fifo")),
                        {"text.fifo: data file is not a regular file"});
}

}  // namespace
}  // namespace gptoss
