// `gptoss perplexity` end to end on the tiny model: the report, --save-logits / --kl-base, the
// llama.cpp protocol, and one-line errors for bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace gptoss {
namespace {

using test::expect_one_line_error;
using test::quoted;
using test::run_cli;

// The first two articles of WikiText-2's test split (CRLF line ends, as stored).
std::string two_articles() {
  std::istringstream in(test::read_file(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw"));
  std::string text, line;
  for (int i = 0; i < 40 && std::getline(in, line); ++i) text += line + "\n";
  return text;
}

// Overwrites every value of `tensor` (BF16 or F32) in a copy of the tiny model with NaN.
void fill_with_nan(const std::filesystem::path& model_dir, const std::string& tensor) {
  const auto file = test::shard_with(model_dir, tensor);
  std::string bytes = test::read_file(file);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  const auto& entry = header.at(tensor);
  const size_t begin = 8 + header_length + entry["data_offsets"][0].get<size_t>();
  const size_t end = 8 + header_length + entry["data_offsets"][1].get<size_t>();
  const std::string nan = entry["dtype"] == "F32" ? std::string("\x00\x00\xc0\x7f", 4) : std::string("\xc0\x7f", 2);
  for (size_t i = begin; i < end; i += nan.size()) bytes.replace(i, nan.size(), nan);
  test::write_file(file, bytes);
}

class PerplexityCli : public ::testing::Test {
 protected:
  void SetUp() override { test::write_file(data_, two_articles()); }
  std::string command(const std::string& flags) const {
    return "perplexity --model " + quoted(test::tiny_model_dir()) + " --data " + quoted(data_) + " " + flags;
  }
  nlohmann::json run_json(const std::string& flags) const {
    const auto r = run_cli(command(flags + " --json"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  test::TempDir dir_;
  std::filesystem::path data_ = dir_ / "wiki.raw";
};

TEST_F(PerplexityCli, ReportsPerplexityWithItsProtocol) {
  const auto j = run_json("--window 64 --stride 32 --max-tokens 300 --eos-between-docs");
  EXPECT_EQ(j["format"], "wikitext");
  EXPECT_EQ(j["documents"], 2);
  EXPECT_EQ(j["eos_token"], "<|return|>");
  EXPECT_EQ(j["tokens"], 300);
  EXPECT_EQ(j["window"], 64);
  EXPECT_EQ(j["stride"], 32);
  EXPECT_EQ(j["tokens_scored"], 299);
  EXPECT_EQ(j["windows"], 9);  // [0,64) then one every 32 tokens until [256,300)
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_GT(j["ppl_error"].get<double>(), 0.0);
  EXPECT_NEAR(std::log(j["ppl"].get<double>()), j["mean_nll"].get<double>(), 1e-9);
  EXPECT_GT(j["tokens_per_second"].get<double>(), 0.0);

  const auto text = run_cli(command("--window 64 --max-tokens 300"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* needle : {"PPL ", "±", "windows of 64, stride 64", "295 tokens in 5 windows"})
    EXPECT_NE(text.out.find(needle), std::string::npos) << needle << " in " << text.out;
}

TEST_F(PerplexityCli, KlDivergenceFromItsOwnSavedLogits) {
  const auto base = dir_ / "base.safetensors";
  // f32: batches of another size group the rows differently, which moves bf16 sums by ~1e-6.
  const auto saved = run_json("--precision f32 --window 48 --max-tokens 200 --save-logits " + quoted(base) + " --top-k 16");
  EXPECT_EQ(saved["saved_logits"]["top_k"], 16);
  const auto j = run_json("--precision f32 --window 48 --max-tokens 200 --batch-size 3 --kl-base " + quoted(base));
  const auto& kl = j["kl_divergence"];
  EXPECT_EQ(kl["tokens"], saved["tokens_scored"]);
  EXPECT_LT(std::abs(kl["mean"].get<double>()), 1e-6);
  EXPECT_LT(kl["max"].get<double>(), 1e-6);
  EXPECT_EQ(kl["same_top"], 1.0);
  EXPECT_NEAR(kl["base_ppl"].get<double>(), saved["ppl"].get<double>(), 1e-4 * saved["ppl"].get<double>());
  EXPECT_NEAR(kl["ppl_difference"].get<double>(), 0.0, 1e-4 * saved["ppl"].get<double>());

  // Another protocol cannot be compared with it.
  expect_one_line_error(run_cli(command("--window 32 --max-tokens 200 --kl-base " + quoted(base))),
                        {base.string(), "windows of 48, stride 48", "windows of 32, stride 32"});
}

TEST_F(PerplexityCli, LlamaCppProtocolScoresTheSecondHalfOfEachChunk) {
  const auto j = run_json("--ctx 64 --chunks 3");
  EXPECT_EQ(j["format"], "text");
  EXPECT_EQ(j["windows"], 3);
  EXPECT_EQ(j["tokens_scored"], 3 * 31);
  EXPECT_EQ(j["protocol"], "llama.cpp chunks of 64");
}

// It printed "PPL -nan ± -nan" (JSON null) and exited 0; KL from a base became nan.
TEST_F(PerplexityCli, NonFiniteLogitsAreAnErrorNamingThePosition) {
  const auto nan_model = dir_ / "nan-model";
  test::copy_tiny_model(nan_model);
  fill_with_nan(nan_model, "model.norm.weight");
  const std::string flags = " --data " + quoted(data_) + " --window 32 --max-tokens 64";
  expect_one_line_error(run_cli("perplexity --model " + quoted(nan_model) + flags + " --json"),
                        {"position 1 ", "not finite"});
  const auto base = dir_ / "base.safetensors";
  ASSERT_EQ(run_cli(command("--window 32 --max-tokens 64 --save-logits " + quoted(base))).exit_code, 0);
  expect_one_line_error(run_cli("perplexity --model " + quoted(nan_model) + flags + " --kl-base " + quoted(base)),
                        {"position 1 ", "not finite"});
}

// A failed --save-logits (here: the name of a directory) left "<name>.partial" behind.
TEST_F(PerplexityCli, AFailedSaveLeavesNoPartialFile) {
  const auto taken = dir_ / "taken";
  std::filesystem::create_directory(taken);
  expect_one_line_error(run_cli(command("--window 32 --max-tokens 64 --save-logits " + quoted(taken))),
                        {taken.string()});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "taken.partial"));
}

TEST_F(PerplexityCli, BadInputGivesOneLineErrors) {
  const auto empty = dir_ / "empty.txt";
  test::write_file(empty, "");
  expect_one_line_error(run_cli("perplexity --model " + quoted(test::tiny_model_dir()) + " --data " + quoted(empty)),
                        {empty.string(), "empty"});
  const auto plain = dir_ / "plain.txt";
  test::write_file(plain, "Just a line of text.\nAnother one.\n");
  expect_one_line_error(run_cli("perplexity --model " + quoted(test::tiny_model_dir()) + " --data " + quoted(plain)),
                        {plain.string(), "Title", "--format"});
  expect_one_line_error(run_cli(command("--window 200000")), {"--window 200000", "max_position_embeddings 131072"});
  expect_one_line_error(run_cli(command("--stride 0")), {"stride 0"});
  expect_one_line_error(run_cli(command("--window 1")), {"window 1"});
  expect_one_line_error(run_cli(command("--format xml")), {"xml"});
  expect_one_line_error(run_cli(command("--eos-between-docs --eos-token '<|nope|>'")), {"<|nope|>"});
  expect_one_line_error(run_cli(command("--kl-base " + quoted(dir_ / "missing.safetensors"))), {"missing.safetensors"});
  const auto tiny = dir_ / "tiny.txt";
  test::write_file(tiny, "x");
  expect_one_line_error(
      run_cli("perplexity --model " + quoted(test::tiny_model_dir()) + " --data " + quoted(tiny) + " --format text"),
      {"1 token"});
  // Counts out of range were taken as the defaults.
  expect_one_line_error(run_cli(command("--ctx 0")), {"--ctx"});
  expect_one_line_error(run_cli(command("--ctx -5")), {"--ctx"});
  expect_one_line_error(run_cli(command("--threads -3")), {"--threads"});
  expect_one_line_error(run_cli(command("--threads 5000")), {"--threads"});
}

}  // namespace
}  // namespace gptoss
