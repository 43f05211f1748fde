// The tools on the GPU: generate, chat, perplexity and logits with --device cuda give what
// they give on the CPU (greedy tokens equal, numbers within float32 noise), in float32 (where
// the tiny random model's close logits cannot flip a greedy choice). Needs a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace gptoss {
namespace {

using test::quoted;
using test::run_cli;

class CudaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::device_available("cuda")) GTEST_SKIP() << "no CUDA device on this machine: GPU tests run on the H200 machine (ctest -L gpu)";
  }
  // The same command on both devices; both must succeed.
  std::pair<std::string, std::string> both(const std::string& command, const std::string& stdin_text = "") const {
    const std::string input = stdin_text.empty() ? "" : " < " + quoted(write_input(stdin_text));
    const auto cpu = run_cli(command + " --device cpu --precision f32 --kv-dtype f32" + input);
    const auto gpu = run_cli(command + " --device cuda --precision f32 --kv-dtype f32" + input);
    EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
    EXPECT_EQ(gpu.exit_code, 0) << gpu.err;
    return {cpu.out, gpu.out};
  }
  std::filesystem::path write_input(const std::string& text) const {
    test::write_file(dir_ / "stdin.txt", text);
    return dir_ / "stdin.txt";
  }
  std::string model() const { return " -m " + quoted(test::tiny_model_dir()); }

  test::TempDir dir_;
};

TEST_F(CudaCli, GenerateGivesTheCpuTokens) {
  const auto [cpu, gpu] = both("generate" + model() + " --raw --prompt 'The quick brown fox' --max-tokens 24 --verbose false");
  EXPECT_FALSE(gpu.empty());
  EXPECT_EQ(gpu, cpu);
}

TEST_F(CudaCli, ChatGivesTheCpuAnswer) {
  const auto [cpu, gpu] = both("chat" + model() + " --max-tokens 16", "Hello there\nAnd again\n");
  EXPECT_NE(gpu.find(">>"), std::string::npos) << gpu;
  EXPECT_EQ(gpu, cpu);
}

TEST_F(CudaCli, PerplexityMatchesTheCpu) {
  const auto [cpu, gpu] = both("perplexity" + model() + " --data " +
                              quoted(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw") +
                              " --window 64 --max-tokens 300 --json");
  const auto a = nlohmann::json::parse(cpu), b = nlohmann::json::parse(gpu);
  EXPECT_EQ(a.at("tokens_scored"), b.at("tokens_scored"));
  EXPECT_NEAR(b.at("mean_nll").get<double>(), a.at("mean_nll").get<double>(), 1e-4);
}

TEST_F(CudaCli, LogitsMatchTheCpu) {
  const std::string tokens = " --tokens 976,4853,19705,68347,11,290,1001,17";
  const auto cpu = run_cli("logits" + model() + tokens + " --device cpu --precision f32 --out " + quoted(dir_ / "cpu.safetensors"));
  const auto gpu = run_cli("logits" + model() + tokens + " --device cuda --precision f32 --out " + quoted(dir_ / "gpu.safetensors"));
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  const auto a = test::read_all_tensors(dir_ / "cpu.safetensors").at("logits").f32;
  const auto b = test::read_all_tensors(dir_ / "gpu.safetensors").at("logits").f32;
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(test::relative_l2(b.data(), a.data(), a.size()), 1e-5);
}

}  // namespace
}  // namespace gptoss
