// `gptoss tokenize` and `gptoss detokenize` end to end, bad input included.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace gptoss {
namespace {

using test::run_cli;

// Built with += : GCC 12 gives a false -Wrestrict warning for "'" + path + "'".
std::string quoted(const std::filesystem::path& p) {
  std::string s = "'";
  s += p.string();
  s += "'";
  return s;
}

std::string model() { return quoted(test::tiny_model_dir()); }

void expect_one_line_error(const test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("gptoss: error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in " << r.err;
}

TEST(TokenizeCli, PrintsIds) {
  const auto r = run_cli("tokenize --model " + model() + " --text 'Hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "13225,2375\n");
}

TEST(TokenizeCli, RecognizesSpecialTokensUnlessNoSpecial) {
  auto r = run_cli("tokenize --model " + model() + " --text '<|start|>user'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "200006,1428\n");
  r = run_cli("tokenize --model " + model() + " --no-special --text '<|start|>user'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("200006"), std::string::npos) << r.out;
}

TEST(TokenizeCli, VerbosePrintsPieces) {
  auto r = run_cli("tokenize -v --model " + model() + " --text '<|end|>say \"x\"'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("200007  <|end|>\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"say\"\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\" \\\"\"\n"), std::string::npos) << r.out;  // the token ' "', escaped
  EXPECT_NE(r.out.find("5 tokens\n"), std::string::npos) << r.out;
  r = run_cli("tokenize -v --model " + model() + " --text \"$(printf 'a\\nb')\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  \"\\n\"\n"), std::string::npos) << r.out;
}

TEST(TokenizeCli, DetokenizePrintsText) {
  const auto r = run_cli("detokenize --model " + model() + " --tokens 200006,1428,200008,13225,2375");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|start|>user<|message|>Hello world\n");
}

TEST(TokenizeCli, BadInputIsOneLineError) {
  test::TempDir dir;
  expect_one_line_error(run_cli("tokenize --model " + quoted(dir.path()) + " --text hi"), "no tokenizer.json");
  expect_one_line_error(run_cli("detokenize --model " + quoted(dir.path()) + " --tokens 1"), "no tokenizer.json");
  expect_one_line_error(run_cli("detokenize --model " + model() + " --tokens 1,999999"), "token id 999999");
  expect_one_line_error(run_cli("detokenize --model " + model() + " --tokens 1,x"), "'x'");
  expect_one_line_error(run_cli("detokenize --model " + model() + " --tokens=-5"), "token id -5");
  test::write_file(dir / "tokenizer.json", "{\"model\": ");
  expect_one_line_error(run_cli("tokenize --model " + quoted(dir.path()) + " --text hi"), "tokenizer.json");
}

}  // namespace
}  // namespace gptoss
