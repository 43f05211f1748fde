// The gptoss program end to end: `logits` and `info` on the tiny model, and every kind of bad
// input giving one line on stderr and a non-zero exit, never a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include "support/test_support.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

using test::expect_one_line_error;
using test::quoted;

const char* kShortPrompt = "976,4853,19705,68347";  // "The quick brown fox"

TEST(Cli, LogitsPrintsTopFiveOfTheLastPosition) {
  const auto r = run_cli("logits --model " + quoted(test::tiny_model_dir()) + " --tokens " + kShortPrompt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // transformers' greedy continuation of this prompt starts with 35633.
  EXPECT_NE(r.out.find("top 5"), std::string::npos);
  const auto first_line = r.out.substr(r.out.find('\n') + 1);
  EXPECT_EQ(std::stoi(first_line), 35633) << r.out;
}

// Exactly: the fixture's float32 logits to 1e-4 under --precision f32.
TEST(Cli, LogitsOutWritesEveryPosition) {
  test::TempDir dir;
  const auto r = run_cli("logits --model " + quoted(test::tiny_model_dir()) + " --tokens " + kShortPrompt +
                         " --precision f32 --out " + quoted(dir / "l.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto written = test::read_all_tensors(dir / "l.safetensors");
  const auto reference = test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
  const auto& logits = written.at("logits");
  ASSERT_EQ(logits.shape, (std::vector<int64_t>{4, 201088}));
  EXPECT_LE(test::relative_l2(logits.f32.data(), reference.at("short.logits_first").f32.data(), 201088), 1e-4);
  EXPECT_LE(test::relative_l2(logits.f32.data() + 3 * 201088, reference.at("short.logits_last").f32.data(), 201088), 1e-4);
}

TEST(Cli, InfoPrintsConfigTensorsAndCounts) {
  const auto r = run_cli("info --model " + quoted(test::tiny_model_dir()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* needle : {"num_hidden_layers        4 (2 sliding, 2 full)", "yarn", "truncate false",
                             "model.layers.0.mlp.experts.gate_up_proj", "mxfp4", "lm_head.weight", "bf16"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
  // V·H (embedding) + V·H (lm_head) + H (final norm) + 4 layers of: 2 norms, q/k/v/o with
  // biases, sinks, router with bias, 8 experts of gate_up (2I×H + 2I) and down (H×I + H).
  const int64_t v = 201088, h = 32, q = 256, kv = 128, e = 8, i = 64;
  const int64_t layer = 2 * h + (q * h + q) + 2 * (kv * h + kv) + (h * q + h) + 4 + (e * h + e) +
                        e * (2 * i * h + 2 * i + h * i + h);
  const int64_t expected = 2 * v * h + h + 4 * layer;
  EXPECT_NE(r.out.find("parameters: " + std::to_string(expected)), std::string::npos) << r.out;
}

TEST(Cli, BenchReportsThroughputAndMemoryAsJson) {
  const auto r = run_cli("bench --model " + quoted(test::tiny_model_dir()) + " -p 8 -n 4 -r 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"load_seconds", "prompt_tokens_per_second", "decode_tokens_per_second",
                          "time_to_first_token_seconds", "decode_weight_bytes_per_token", "peak_memory_gb",
                          "read_bandwidth_gbs", "percent_of_read_bandwidth"})
    EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
  EXPECT_NEAR(j["percent_of_read_bandwidth"].get<double>(),
              100 * j["decode_weight_gb_per_second"].get<double>() / j["read_bandwidth_gbs"].get<double>(), 1e-6);
  // One decoded token reads every weight but the embedding (one row) and 4 of 8 experts.
  EXPECT_LT(j["decode_weight_bytes_per_token"].get<double>(), 14e6);
  const auto table = run_cli("bench --model " + quoted(test::tiny_model_dir()) + " -p 4 -n 2");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("| pp4 tok/s"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("| read ceiling GB/s | % of ceiling |"), std::string::npos) << table.out;
  expect_one_line_error(run_cli("bench --model " + quoted(test::tiny_model_dir()) + " -p 0"), {"-p"});
  // --profile: the time and weight bytes of each operation, in the JSON and as a table.
  const auto profiled = run_cli("bench --model " + quoted(test::tiny_model_dir()) + " -p 8 -n 2 --profile --json");
  ASSERT_EQ(profiled.exit_code, 0) << profiled.err;
  const auto profile = nlohmann::json::parse(profiled.out).at("profile");
  std::set<std::string> names;
  for (const auto& op : profile) {
    names.insert(op.at("name").get<std::string>());
    EXPECT_GT(op.at("calls").get<int64_t>(), 0);
  }
  for (const char* name : {"prefill/moe", "prefill/lm_head", "decode/moe", "decode/attention.qkv"})
    EXPECT_TRUE(names.count(name)) << name;
  const auto profile_table = run_cli("bench --model " + quoted(test::tiny_model_dir()) + " -p 8 -n 2 --profile");
  ASSERT_EQ(profile_table.exit_code, 0) << profile_table.err;
  EXPECT_NE(profile_table.out.find("| decode/moe |"), std::string::npos) << profile_table.out;
  EXPECT_NE(profile_table.out.find("| decode/total |"), std::string::npos) << profile_table.out;
}

TEST(Cli, SynthWritesALoadableTinyModel) {
  test::TempDir dir;
  const auto r = run_cli("synth --config tiny --seed 7 --out " + quoted(dir / "t"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto again = run_cli("synth --config tiny --seed 7 --out " + quoted(dir / "u"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::read_file(dir / "t" / "model.safetensors"), test::read_file(dir / "u" / "model.safetensors"));
  const auto q = run_cli("synth --config tiny --q-bits 4 --q-group-size 32 --out " + quoted(dir / "q"));
  ASSERT_EQ(q.exit_code, 0) << q.err;
  for (const char* m : {"t", "q"}) {
    const auto logits = run_cli("logits --model " + quoted(dir / m) + " --tokens 1,2,3");
    EXPECT_EQ(logits.exit_code, 0) << logits.err;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))  // the temporary source is gone
    EXPECT_EQ(entry.path().filename().string().find("synth-source"), std::string::npos) << entry.path();
  expect_one_line_error(run_cli("synth --config nonsense --out " + quoted(dir / "x")), {"nonsense"});
  expect_one_line_error(run_cli("synth --config tiny --layers 9 --out " + quoted(dir / "x")), {"--layers 9"});
  expect_one_line_error(run_cli("synth --config tiny --out " + quoted(dir / "t")), {"already exists"});
}

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override { test::copy_tiny_model(model_); }
  std::string info() { return "info --model " + quoted(model_); }
  fs::path shard(const std::string& tensor) const { return test::shard_with(model_, tensor); }

  test::TempDir dir_;
  fs::path model_ = dir_ / "model";
};

TEST_F(CliBadInput, TruncatedFile) {
  const fs::path f = shard("lm_head.weight");
  fs::resize_file(f, fs::file_size(f) / 2);
  expect_one_line_error(run_cli(info()), {f.filename().string(), "exceed the data area"});
  fs::resize_file(f, 5);
  expect_one_line_error(run_cli(info()), {f.filename().string(), "truncated"});
}

TEST_F(CliBadInput, HeaderLongerThanTheFile) {
  const fs::path f = shard("lm_head.weight");
  std::string bytes = test::read_file(f);
  const uint64_t too_long = bytes.size();  // under 100 MB, but past the end
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((too_long >> (8 * i)) & 0xff);
  test::write_file(f, bytes);
  expect_one_line_error(run_cli(info()), {f.filename().string(), "runs past the end of the file"});
}

TEST_F(CliBadInput, OffsetsOutOfRange) {
  const fs::path f = shard("model.norm.weight");
  test::edit_safetensors_header(f, [](nlohmann::json& h) {
    h["model.norm.weight"]["data_offsets"][0] = 1ull << 40;
    h["model.norm.weight"]["data_offsets"][1] = (1ull << 40) + 64;
  });
  expect_one_line_error(run_cli(info()), {f.filename().string(), "model.norm.weight", "exceed the data area"});
}

TEST_F(CliBadInput, OverlappingTensors) {
  const fs::path f = shard("model.norm.weight");
  test::edit_safetensors_header(f, [](nlohmann::json& h) {
    std::string other;
    for (auto& [name, entry] : h.items())
      if (name != "__metadata__" && name != "model.norm.weight" && entry["data_offsets"][1].get<uint64_t>() >= 64) {
        other = name;
        break;
      }
    const uint64_t begin = h[other]["data_offsets"][0];
    h["model.norm.weight"]["data_offsets"] = {begin, begin + 64};
  });
  expect_one_line_error(run_cli(info()), {f.filename().string(), "overlap"});
}

TEST_F(CliBadInput, UnknownDtype) {
  const fs::path f = shard("model.norm.weight");
  test::edit_safetensors_header(f, [](nlohmann::json& h) { h["model.norm.weight"]["dtype"] = "Q4_0"; });
  expect_one_line_error(run_cli(info()), {f.filename().string(), "model.norm.weight", "unknown dtype"});
}

TEST_F(CliBadInput, WrongShapeForAKnownTensor) {
  const std::string name = "model.layers.1.self_attn.q_proj.weight";
  const fs::path f = shard(name);
  test::edit_safetensors_header(f, [&](nlohmann::json& h) { h[name]["shape"] = {32, 256}; });
  expect_one_line_error(run_cli(info()), {f.filename().string(), name, "has shape [32, 256], expected [256, 32]"});
}

TEST_F(CliBadInput, WrongDtypeForAKnownTensor) {
  const std::string name = "model.layers.2.mlp.router.weight";
  const fs::path f = shard(name);
  test::edit_safetensors_header(f, [&](nlohmann::json& h) { h[name]["dtype"] = "I16"; });
  expect_one_line_error(run_cli(info()), {f.filename().string(), name, "has dtype I16"});
  const std::string blocks = "model.layers.0.mlp.experts.down_proj_blocks";
  test::copy_tiny_model(model_);
  test::edit_safetensors_header(shard(blocks), [&](nlohmann::json& h) { h[blocks]["dtype"] = "F32"; h[blocks]["shape"] = {8, 32, 2, 4}; });
  expect_one_line_error(run_cli(info()), {blocks, "has dtype F32, expected U8"});
}

TEST_F(CliBadInput, MissingTensor) {
  const std::string name = "model.layers.3.self_attn.sinks";
  test::edit_safetensors_header(shard(name), [&](nlohmann::json& h) { h.erase(name); });
  auto index = nlohmann::json::parse(test::read_file(model_ / "model.safetensors.index.json"));
  index["weight_map"].erase(name);
  test::write_file(model_ / "model.safetensors.index.json", index.dump());
  expect_one_line_error(run_cli(info()), {model_.string(), "missing tensor '" + name + "'"});
}

TEST_F(CliBadInput, ConfigWithAMissingKey) {
  auto config = nlohmann::json::parse(test::read_file(model_ / "config.json"));
  config.erase("num_key_value_heads");
  test::write_file(model_ / "config.json", config.dump());
  expect_one_line_error(run_cli(info()), {"config.json", "missing key 'num_key_value_heads'"});
}

TEST_F(CliBadInput, ConfigWithAWrongTypedKey) {
  auto config = nlohmann::json::parse(test::read_file(model_ / "config.json"));
  config["sliding_window"] = "sixteen";
  test::write_file(model_ / "config.json", config.dump());
  expect_one_line_error(run_cli(info()), {"config.json", "key 'sliding_window' must be a positive integer"});
  test::write_file(model_ / "config.json", "{\"vocab_size\": 3,");
  expect_one_line_error(run_cli(info()), {"config.json", "not valid JSON"});
}

TEST_F(CliBadInput, TokenIdOutsideTheVocabulary) {
  expect_one_line_error(run_cli("logits --model " + quoted(model_) + " --tokens 1,201088"),
                        {"token id 201088 at index 1", "vocabulary (size 201088)"});
  expect_one_line_error(run_cli("logits --model " + quoted(model_) + " --tokens 1,-5"), {"token id -5"});
  expect_one_line_error(run_cli("logits --model " + quoted(model_) + " --tokens 1,x"), {"--tokens", "'x'"});
}

TEST_F(CliBadInput, PromptLongerThanTheContext) {
  expect_one_line_error(run_cli("logits --model " + quoted(model_) + " --ctx 3 --tokens " + kShortPrompt),
                        {"4 new tokens exceed the context length of 3"});
}

TEST_F(CliBadInput, MissingModelDirectory) {
  expect_one_line_error(run_cli("info --model " + quoted(dir_ / "nowhere")), {"nowhere"});
}

}  // namespace
}  // namespace gptoss

namespace gptoss {
namespace {

using test::expect_one_line_error;
using test::quoted;
using test::run_cli;

std::string tiny_logits(const std::string& flags) {
  return "logits --model " + quoted(test::tiny_model_dir()) + " --tokens 976,4853 " + flags;
}

// CLI11's parse errors exited with its own codes (104-114) and a second line of advice.
TEST(CliFlags, ParseErrorsAreOneLineWithExitStatusOne) {
  expect_one_line_error(run_cli("logits --tokens 1"), {"--model"});
  expect_one_line_error(run_cli(tiny_logits("--no-such-flag")), {"--no-such-flag"});
  expect_one_line_error(run_cli("no-such-command"), {"subcommand"});
  expect_one_line_error(run_cli(tiny_logits("--ctx many")), {"--ctx", "many"});
  expect_one_line_error(run_cli(""), {"subcommand"});
  const auto help = run_cli("logits --help");
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("--tokens"), std::string::npos) << help.out;
  const auto version = run_cli("--version");
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_NE(version.out.find("gptoss 0.1.0"), std::string::npos) << version.out;
}

// A precision that is not a name, or bf16 on kernels without a bf16 product (the scalar set
// stands for any CPU without AMX or AVX512-BF16).
TEST(CliFlags, PrecisionErrorsNameTheFlagOrTheKernels) {
  expect_one_line_error(run_cli(tiny_logits("--precision bf17")), {"--precision", "bf17"});
  ::setenv("GPTOSS_CPU_KERNELS", "scalar", 1);
  const auto r = run_cli(tiny_logits("--precision bf16"));
  const auto automatic = run_cli(tiny_logits("--precision auto"));
  ::unsetenv("GPTOSS_CPU_KERNELS");
  expect_one_line_error(r, {"precision bf16", "scalar", "no bf16 product"});
  EXPECT_EQ(automatic.exit_code, 0) << "auto falls back to f32: " << automatic.err;
}

// --ctx 0 / -5 and --threads -3 used the defaults; --max-kv-size 0 passed "must be positive".
TEST(CliFlags, CountsOutOfRangeAreErrorsInEveryCommand) {
  test::TempDir dir;
  const std::string model = " --model " + quoted(test::tiny_model_dir());
  for (const std::string ctx : {"0", "-5"}) {
    expect_one_line_error(run_cli(tiny_logits("--ctx " + ctx)), {"--ctx"});
    expect_one_line_error(run_cli("generate" + model + " --prompt Hi --ctx " + ctx), {"--ctx"});
  }
  for (const std::string threads : {"-3", "1025"}) {
    expect_one_line_error(run_cli(tiny_logits("--threads " + threads)), {"--threads"});
    expect_one_line_error(run_cli("generate" + model + " --prompt Hi --threads " + threads), {"--threads"});
    expect_one_line_error(run_cli("chat" + model + " --threads " + threads), {"--threads"});
    expect_one_line_error(run_cli("bench" + model + " --threads " + threads), {"--threads"});
    expect_one_line_error(run_cli("convert" + model + " --threads " + threads), {"--threads"});
    expect_one_line_error(run_cli("synth --out " + quoted(dir / "s") + " --threads " + threads), {"--threads"});
  }
  for (const std::string size : {"0", "-1"}) {
    expect_one_line_error(run_cli("generate" + model + " --prompt Hi --max-kv-size " + size), {"--max-kv-size"});
    expect_one_line_error(run_cli("chat" + model + " --max-kv-size " + size), {"--max-kv-size"});
  }
  // 0 threads is documented as all cores.
  const auto all = run_cli(tiny_logits("--threads 0 --ctx 2"));
  EXPECT_EQ(all.exit_code, 0) << all.err;
}

// The seed wrapped or clamped to 2^64-1; logit-bias ids wrapped to 0 and huge biases vanished.
TEST(CliFlags, NumbersOutOfRangeAreErrorsNotWrapped) {
  const std::string generate = "generate --model " + quoted(test::tiny_model_dir()) + " --prompt Hi --max-tokens 1 ";
  for (const std::string seed : {"-1", "18446744073709551616", "1e23", "1.5"})
    expect_one_line_error(run_cli(generate + "--seed " + seed), {"--seed", seed});
  test::TempDir dir;
  expect_one_line_error(run_cli("synth --out " + quoted(dir / "s") + " --seed -1"), {"--seed"});
  expect_one_line_error(run_cli(generate + "--logit-bias 4294967296:100"), {"4294967296:100", "out of range"});
  expect_one_line_error(run_cli(generate + "--logit-bias 1:1e39"), {"1:1e39", "float"});
  expect_one_line_error(run_cli(generate + "--logit-bias 1:-1e400"), {"1:-1e400"});
  const auto largest = run_cli(generate + "--seed 18446744073709551615 --logit-bias 1:3e38");
  EXPECT_EQ(largest.exit_code, 0) << largest.err;
}

// print_top5 read five ids from a shorter vocabulary (a heap overflow).
TEST(CliFlags, LogitsOfAModelWithAVocabularyOfThree) {
  test::TempDir dir;
  auto config = nlohmann::json::parse(test::read_file(test::tiny_model_dir() / "config.json"));
  config["vocab_size"] = 3;
  config["eos_token_id"] = 2;
  config["pad_token_id"] = 1;
  test::write_file(dir / "config.json", config.dump());
  const auto synth = run_cli("synth --config " + quoted(dir / "config.json") + " --out " + quoted(dir / "m"));
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const auto r = run_cli("logits --model " + quoted(dir / "m") + " --tokens 0,1,2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top 3 "), std::string::npos) << r.out;
  for (const char* id : {"\n         0  ", "\n         1  ", "\n         2  "})
    EXPECT_NE(r.out.find(id), std::string::npos) << id << " in " << r.out;
}

// A failed --out (here: an existing directory) left "<out>.partial" behind.
TEST(CliFlags, LogitsOutOntoADirectoryLeavesNoPartialFile) {
  test::TempDir dir;
  std::filesystem::create_directory(dir / "taken");
  expect_one_line_error(run_cli(tiny_logits("--out " + quoted(dir / "taken"))), {(dir / "taken").string()});
  EXPECT_FALSE(std::filesystem::exists(dir / "taken.partial"));
}

// --out held every position's row in memory (4.7 GB for 6000 tokens); it streams them now, a
// chunk of positions at a time, and the file must not depend on the chunk.
TEST(CliFlags, LogitsOutStreamsChunksIntoTheSameFile) {
  test::TempDir dir;
  const std::string prompt = std::string(kShortPrompt) + ",13,976,4853,19705,68347,13,11";  // 11 tokens
  // f32: chunks of 3 decode in float32, a chunk of 11 would otherwise prefill in bf16.
  const std::string model = "logits --precision f32 --model " + quoted(test::tiny_model_dir()) + " --tokens " + prompt;
  const auto streamed = run_cli(model + " --chunk 3 --out " + quoted(dir / "streamed.safetensors"));
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  const auto whole = run_cli(model + " --chunk 64 --out " + quoted(dir / "whole.safetensors"));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const auto a = test::read_all_tensors(dir / "streamed.safetensors").at("logits");
  const auto b = test::read_all_tensors(dir / "whole.safetensors").at("logits");
  ASSERT_EQ(a.shape, (std::vector<int64_t>{11, 201088}));
  ASSERT_EQ(a.shape, b.shape);
  EXPECT_LE(test::relative_l2(a.f32.data(), b.f32.data(), a.f32.size()), 1e-5);
  // The last row is the one `logits` prints without --out.
  const auto top = run_cli(model);
  ASSERT_EQ(top.exit_code, 0) << top.err;
  const float* last = a.f32.data() + 10 * 201088;
  const int best = std::stoi(top.out.substr(top.out.find('\n') + 1));
  EXPECT_EQ(std::max_element(last, last + 201088) - last, best);
  expect_one_line_error(run_cli(model + " --chunk 0 --out " + quoted(dir / "x")), {"--chunk"});
}

// synth on a full disk, simulated by a 1 MB file-size limit with SIGXFSZ ignored (this works as
// root in a container, where mounting a tiny tmpfs may not): one line, exit 1, and neither the
// output directory nor its staging directory is left. (TemporaryFile's tests cover the small
// JSON files, which an unchecked ofstream used to leave empty with exit 0.)
TEST(CliFlags, SynthOnAFullDiskFailsAndLeavesNothing) {
  test::TempDir dir;
  test::write_file(dir / "run.sh", "trap '' XFSZ\nulimit -f 2048\nexec " + std::string(GPTOSS_CLI) +
                                       " synth --config tiny --out " + quoted(dir / "out" / "s") + " 2>" +
                                       quoted(dir / "err") + "\n");
  std::filesystem::create_directory(dir / "out");
  const int status = std::system(("sh " + quoted(dir / "run.sh")).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = test::read_file(dir / "err");
  EXPECT_EQ(err.rfind("gptoss: error: ", 0), 0u) << err;
  EXPECT_NE(err.find("File too large"), std::string::npos) << err;
  EXPECT_TRUE(std::filesystem::is_empty(dir / "out"));
}

// generation_config.json's eos ids were read with a truncating get<int>().
TEST(CliFlags, AnEosIdBeyondTheTokenIdsIsAnError) {
  test::TempDir dir;
  test::copy_tiny_model(dir / "m");
  test::write_file(dir / "m" / "generation_config.json", "{\"eos_token_id\": [200002, 4295054538]}");
  expect_one_line_error(run_cli("logits --model " + quoted(dir / "m") + " --tokens 1"),
                        {"generation_config.json", "4295054538"});
}

}  // namespace
}  // namespace gptoss
