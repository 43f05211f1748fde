// The shared guards for untrusted JSON: the nesting pre-scan and the short excerpts quoted in
// error messages.
#include <gtest/gtest.h>

#include "gptoss/error.h"
#include "io/json_limits.h"

namespace gptoss {
namespace {

std::string nested(int depth) { return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'); }

TEST(JsonLimits, DepthUpToTheLimitParses) {
  EXPECT_NO_THROW(check_json_depth(nested(kMaxJsonDepth), "f.json"));
  EXPECT_TRUE(parse_untrusted_json(nested(kMaxJsonDepth), "f.json").is_array());
}

TEST(JsonLimits, DeeperIsRefusedBeforeParsing) {
  try {
    parse_untrusted_json(nested(100000), "f.json");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "f.json: JSON nests deeper than 64 levels (at byte 64)");
  }
  EXPECT_THROW(check_json_depth("{\"a\":" + nested(kMaxJsonDepth) + "}", "f.json"), Error);
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  const std::string brackets(1000, '[');
  EXPECT_NO_THROW(check_json_depth("{\"" + brackets + "\": \"" + brackets + "\\\"" + brackets + "\"}", "f.json"));
  EXPECT_NO_THROW(check_json_depth("[\"\\\\\", " + nested(kMaxJsonDepth - 1) + "]", "f.json"));
  EXPECT_THROW(check_json_depth("[\"\\\\\", " + nested(kMaxJsonDepth) + "]", "f.json"), Error);
}

TEST(JsonLimits, SyntaxErrorsAreShortAndOneLine) {
  try {
    parse_untrusted_json("[\"" + std::string(100000, 'x') + "\n", "f.json");
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("f.json: not valid JSON: ", 0), 0u) << what;
    EXPECT_LT(what.size(), 120u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(JsonLimits, ExcerptsAreShort) {
  EXPECT_EQ(json_excerpt(nlohmann::json("gpt_oss")), "\"gpt_oss\"");
  EXPECT_EQ(json_excerpt(nlohmann::json(12)), "12");
  EXPECT_EQ(json_excerpt(nlohmann::json::array({1, 2, 3})), "an array of 3 elements");
  EXPECT_EQ(json_excerpt(nlohmann::json::object()), "an object of 0 keys");
  const std::string long_excerpt = json_excerpt(nlohmann::json(std::string(1000, 'x')));
  EXPECT_EQ(long_excerpt, "\"" + std::string(60, 'x') + "...\"");
  // Never cut inside a UTF-8 character.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xC3\xA9";
  EXPECT_EQ(text_excerpt(accents), std::string(accents, 0, 60) + "...");
  EXPECT_EQ(text_excerpt("x" + accents), "x" + std::string(accents, 0, 58) + "...");
}

}  // namespace
}  // namespace gptoss
