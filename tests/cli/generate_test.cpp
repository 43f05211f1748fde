// `gptoss generate` end to end on the tiny model: streaming output and mlx_lm's statistics,
// stop tokens, --max-kv-size keeping memory bounded, the context limit, prompts from stdin.
#include <gtest/gtest.h>

#include <regex.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "support/test_support.h"

namespace gptoss {
namespace {

using test::expect_one_line_error;
using test::quoted;
using test::run_cli;

std::string generate(const std::string& args) { return "generate -m " + quoted(test::tiny_model_dir()) + " " + args; }

// Whether POSIX extended regex `pattern` occurs in `text`; its first group into *group.
// (POSIX regex, not <regex>: GCC 12 reports false uninitialised uses in <regex> under ASan.)
bool search(const std::string& text, const char* pattern, std::string* group = nullptr) {
  regex_t regex;
  if (regcomp(&regex, pattern, REG_EXTENDED) != 0) throw std::runtime_error(std::string("bad regex ") + pattern);
  regmatch_t match[2];
  const bool found = regexec(&regex, text.c_str(), 2, match, 0) == 0;
  regfree(&regex);
  if (found && group != nullptr && match[1].rm_so >= 0)
    *group = text.substr(static_cast<size_t>(match[1].rm_so), static_cast<size_t>(match[1].rm_eo - match[1].rm_so));
  return found;
}

double peak_memory(const std::string& out) {
  std::string gb;
  EXPECT_TRUE(search(out, "Peak memory: ([0-9.]+) GB", &gb)) << out;
  return gb.empty() ? 0 : std::stod(gb);
}

TEST(Generate, StreamsTextThenPrintsMlxLmStatistics) {
  const auto r = run_cli(generate("--prompt 'Explain the Chudnovsky algorithm' --max-tokens 40"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("==========\n", 0), 0u) << r.out;
  EXPECT_TRUE(search(r.out, "\n==========\nPrompt: [0-9]+ tokens, [0-9.]+ tokens-per-sec\n"
                            "Generation: 40 tokens, [0-9.]+ tokens-per-sec\n"
                            "Time to first token: [0-9.]+ s\nPeak memory: [0-9.]+ GB\n$"))
      << r.out;
  // The random weights do not answer in harmony: the text is shown plainly, with a note.
  EXPECT_NE(r.err.find("does not follow the harmony format"), std::string::npos) << r.err;
}

TEST(Generate, VerboseFalsePrintsOnlyTheText) {
  const auto r = run_cli(generate("--prompt-tokens 976,4853,19705,68347 --max-tokens 5 --verbose false"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("=========="), std::string::npos);
  EXPECT_EQ(r.out.find("Prompt:"), std::string::npos);
  EXPECT_FALSE(r.out.empty());
}

TEST(Generate, PromptFromStandardInputEqualsTheSamePromptAsAFlag) {
  test::TempDir dir;
  test::write_file(dir / "prompt.txt", "The quick brown fox");
  const auto a = run_cli(generate("--raw --prompt 'The quick brown fox' --max-tokens 6 --verbose false"));
  const auto b = run_cli(generate("--raw --prompt - --max-tokens 6 --verbose false < " + quoted(dir / "prompt.txt")));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(Generate, StopsAtAStopToken) {
  // Biasing <|return|> far above everything makes it the first token: the answer is empty.
  const auto raw = run_cli(generate("--raw --prompt Hi --logit-bias 200002:1000 --max-tokens 50"));
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_NE(raw.out.find("Generation: 1 tokens"), std::string::npos) << raw.out;
  EXPECT_EQ(raw.out.find("<|return|>"), std::string::npos) << raw.out;
  // In chat form <|call|> stops too; <|end|> does not (it separates analysis from the answer).
  const auto call = run_cli(generate("--prompt Hi --logit-bias 200012:1000 --max-tokens 50"));
  EXPECT_NE(call.out.find("Generation: 1 tokens"), std::string::npos) << call.out;
  const auto end = run_cli(generate("--prompt Hi --logit-bias 200007:1000 --max-tokens 7"));
  EXPECT_NE(end.out.find("Generation: 7 tokens"), std::string::npos) << end.out;
}

TEST(Generate, SeedReproducesAndTemperatureZeroIsGreedy) {
  const auto a = run_cli(generate("--raw --prompt Hi --temp 0.9 --top-p 0.95 --seed 5 --max-tokens 8 --verbose false"));
  const auto b = run_cli(generate("--raw --prompt Hi --temp 0.9 --top-p 0.95 --seed 5 --max-tokens 8 --verbose false"));
  EXPECT_EQ(a.out, b.out);
  const auto greedy = run_cli(generate("--raw --prompt Hi --max-tokens 8 --verbose false"));
  const auto top1 = run_cli(generate("--raw --prompt Hi --temp 1 --top-k 1 --seed 9 --max-tokens 8 --verbose false"));
  EXPECT_EQ(greedy.out, top1.out);
}

TEST(Generate, ContextLimitIsAClearMessageAndMaxKvSizeRunsPastIt) {
  const auto full = run_cli(generate("--raw --prompt Hi --ctx 24 --max-tokens 100"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.err.find("stopped: the context of 24 tokens is full"), std::string::npos) << full.err;
  const auto bounded = run_cli(generate("--raw --prompt Hi --ctx 24 --max-kv-size 16 --max-tokens 100"));
  EXPECT_NE(bounded.out.find("Generation: 100 tokens"), std::string::npos) << bounded.out;
  expect_one_line_error(run_cli(generate("--raw --prompt 'a b c d e f g h i j' --ctx 4")), {"exceed the context length of 4"});
}

TEST(Generate, MaxKvSizeKeepsLongRunsBoundedInMemory) {
  // 8,000 tokens fill 250 blocks of the two full-attention layers (16 MB in f32, of which the
  // first MB reuse memory the tokenizer's loading freed) unless --max-kv-size bounds them; with
  // a window of 64 the layers recycle a few blocks and memory stays where a 300-token run has it.
  // glibc's mmap threshold is pinned: left dynamic, it rises after the first large free, and a
  // few MB of transient allocations then land in the retained heap or not depending on what was
  // freed before, a peak-memory swing (~8 MB, seen on the 2-core EPYC) that hides the KV's 16 MB.
  struct PinnedMmapThreshold {
    PinnedMmapThreshold() { setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072", 1); }
    ~PinnedMmapThreshold() { unsetenv("GLIBC_TUNABLES"); }
  } pinned;
  const auto shortrun = run_cli(generate("--raw --prompt Hi --kv-dtype f32 --max-kv-size 64 --max-tokens 300"));
  const auto bounded = run_cli(generate("--raw --prompt Hi --kv-dtype f32 --max-kv-size 64 --max-tokens 8000"));
  const auto unbounded = run_cli(generate("--raw --prompt Hi --kv-dtype f32 --max-tokens 8000"));
  ASSERT_EQ(bounded.exit_code, 0) << bounded.err;
  ASSERT_EQ(unbounded.exit_code, 0) << unbounded.err;
  EXPECT_NE(bounded.out.find("Generation: 8000 tokens"), std::string::npos) << bounded.out;
  EXPECT_LT(peak_memory(bounded.out) - peak_memory(shortrun.out), 0.003);
  EXPECT_GT(peak_memory(unbounded.out) - peak_memory(bounded.out), 0.004);
}

// Ctrl-C during a long prefill is honoured between layers: the command stops within a moment,
// says so, and exits as a shell reports SIGINT (130).
TEST(Generate, CtrlCDuringALongPrefillStopsAtOnce) {
  test::TempDir tmp;
  std::string text;
  for (int i = 0; i < 30000; ++i) text += "hello ";  // 30,000 tokens: seconds of prefill
  test::write_file(tmp / "prompt", text);
  const std::string cmd = "timeout --preserve-status -s INT 1 " + std::string(GPTOSS_CLI) + " generate -m " +
                          quoted(test::tiny_model_dir()) + " --raw --prompt - --max-tokens 1 <" + quoted(tmp / "prompt") +
                          " >" + quoted(tmp / "out") + " 2>" + quoted(tmp / "err");
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string err = test::read_file(tmp / "err");
  EXPECT_NE(err.find("gptoss: interrupted"), std::string::npos) << err;
  EXPECT_LT(seconds, 4.0);
}

TEST(Generate, BadFlagsAreOneLineErrors) {
  expect_one_line_error(run_cli(generate("--prompt Hi --reasoning-effort extreme")), {"--reasoning-effort", "extreme"});
  expect_one_line_error(run_cli(generate("--prompt Hi --logit-bias 5")), {"5"});
  expect_one_line_error(run_cli(generate("--prompt Hi --verbose maybe")), {"--verbose", "maybe"});
  expect_one_line_error(run_cli(generate("")), {"--prompt"});
  expect_one_line_error(run_cli("generate -m " + quoted(test::test_data_dir() / "nowhere") + " --prompt Hi"), {"nowhere"});
}

}  // namespace
}  // namespace gptoss
