// The harmony constraints behind tool_choice and response_format, checked by random walks: at
// every step a random token among those the constraint allows is taken (a message's end with
// some probability whenever it is allowed, so that walks end), and the finished answer, read
// back by the OutputAssembler, must be what the request demands — a call of the named function
// whose arguments are valid for its schema, a final answer valid for the response format — with
// no broken harmony on the way. The schemas' validity is judged by the grammar tests' independent
// validator.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "grammar/schema_validator.h"
#include "server/api_error.h"
#include "server/harmony_constraint.h"
#include "server/output_assembler.h"
#include "tokenizer/tokenizer_fixture.h"

namespace gptoss::server {
namespace {

using gptoss::test::gpt_oss_tokenizer;

const std::shared_ptr<const ConstraintVocabulary>& vocabulary() {
  static const auto v = std::make_shared<const ConstraintVocabulary>(gpt_oss_tokenizer());
  return v;
}

constexpr const char* kWeatherSchema =
    R"({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"], "additionalProperties": false})";
constexpr const char* kVerdictSchema =
    R"({"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}, "why": {"type": "string"}},
        "required": ["answer", "why"], "additionalProperties": false})";

ApiRequest request_with_tools(ToolChoice choice) {
  ApiRequest request;
  harmony::DeveloperContent developer;
  developer.tools = {{"get_weather", "The weather", kWeatherSchema}, {"get_time", "The time", ""}};
  request.conversation = {harmony::Message::developer(developer), harmony::Message::user("Hi")};
  request.tool_choice = std::move(choice);
  return request;
}

struct Walk {
  std::vector<int32_t> tokens;
  AssembledOutput output;
};

// Takes random allowed tokens until the turn ends (<|return|>, <|call|>) or `limit` tokens. Uniform
// choices would almost never close a JSON string (few tokens hold a quote), so some steps choose
// among the allowed tokens holding a quote or a closing bracket.
Walk walk(TokenConstraint& constraint, uint32_t seed, int limit = 4000) {
  const ConstraintVocabulary& v = *vocabulary();
  std::mt19937 random(seed);
  std::vector<uint32_t> allowed((static_cast<size_t>(v.size()) + 31) / 32);
  OutputAssembler assembler(gpt_oss_tokenizer(), {.harmony = true, .stop = {}, .logprobs = false, .call_id_prefix = "call_t"});
  Walk w;
  while (static_cast<int>(w.tokens.size()) < limit) {
    std::fill(allowed.begin(), allowed.end(), 0u);
    constraint.allowed_tokens(allowed);
    std::vector<int32_t> ids, ends, closers;
    for (int32_t id = 0; id < v.size(); ++id)
      if (allowed[static_cast<size_t>(id) / 32] >> (id % 32) & 1u) {
        ids.push_back(id);
        if (id == v.end || id == v.return_ || id == v.call) ends.push_back(id);
        if (v.grammar().bytes(id).find_first_of("\"}]") != std::string_view::npos) closers.push_back(id);
      }
    if (ids.empty()) break;
    const double p = std::uniform_real_distribution<>(0, 1)(random);
    const auto& from = !ends.empty() && p < 0.3 ? ends : !closers.empty() && p < 0.6 ? closers : ids;
    const int32_t token = from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(random)];
    constraint.accept(token);
    w.tokens.push_back(token);
    assembler.feed(TokenEvent{token, 0, {}});
    if (token == v.return_ || token == v.call) break;
  }
  assembler.finish(FinishReason::stop);
  w.output = assembler.output();
  return w;
}

void expect_valid(const char* schema, const std::string& text, const std::string& what) {
  const auto instance = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(instance.is_discarded()) << what << " is not JSON: " << text;
  std::string why;
  EXPECT_TRUE(gptoss::test::validate_against_schema(nlohmann::ordered_json::parse(schema), instance, &why))
      << what << ": " << text << " — " << why;
}

TEST(HarmonyConstraint, NamedToolChoiceAlwaysCallsThatFunctionWithValidArguments) {
  const ApiRequest request = request_with_tools({ToolChoice::Kind::named, "get_weather"});
  for (uint32_t seed = 0; seed < 40; ++seed) {
    auto constraints = harmony_constraints(vocabulary(), request);
    ASSERT_EQ(constraints.size(), 1u);
    const Walk w = walk(*constraints[0], seed);
    ASSERT_EQ(w.tokens.back(), vocabulary()->call) << "seed " << seed;
    ASSERT_EQ(w.output.tool_calls.size(), 1u) << "seed " << seed << ": " << gpt_oss_tokenizer().decode(w.tokens);
    EXPECT_EQ(w.output.tool_calls[0].name, "get_weather");
    EXPECT_EQ(w.output.content, "");  // no final answer, no preamble
    expect_valid(kWeatherSchema, w.output.tool_calls[0].arguments, "seed " + std::to_string(seed));
  }
}

TEST(HarmonyConstraint, RequiredCallsOneOfTheTools) {
  const ApiRequest request = request_with_tools({ToolChoice::Kind::required, ""});
  std::set<std::string> called;
  for (uint32_t seed = 0; seed < 40; ++seed) {
    auto constraints = harmony_constraints(vocabulary(), request);
    const Walk w = walk(*constraints[0], seed);
    ASSERT_EQ(w.tokens.back(), vocabulary()->call) << "seed " << seed;
    ASSERT_EQ(w.output.tool_calls.size(), 1u) << "seed " << seed;
    const ToolCall& call = w.output.tool_calls[0];
    called.insert(call.name);
    if (call.name == "get_weather") expect_valid(kWeatherSchema, call.arguments, "seed " + std::to_string(seed));
    else EXPECT_TRUE(nlohmann::json::parse(call.arguments).is_object()) << call.arguments;
  }
  EXPECT_EQ(called, (std::set<std::string>{"get_weather", "get_time"}));
}

TEST(HarmonyConstraint, NoneNeverCalls) {
  ApiRequest request = request_with_tools({ToolChoice::Kind::none, ""});
  request.response_format = {StructuredOutput::Kind::json_object, "", {}};
  for (uint32_t seed = 0; seed < 20; ++seed) {
    auto constraints = harmony_constraints(vocabulary(), request);
    const Walk w = walk(*constraints[0], seed);
    ASSERT_EQ(w.tokens.back(), vocabulary()->return_) << "seed " << seed;
    EXPECT_TRUE(w.output.tool_calls.empty()) << "seed " << seed;
    EXPECT_TRUE(nlohmann::json::parse(w.output.content).is_object()) << w.output.content;
  }
}

TEST(HarmonyConstraint, JsonSchemaFinalAnswerIsValid) {
  ApiRequest request;
  request.conversation = {harmony::Message::user("Hi")};
  request.response_format = {StructuredOutput::Kind::json_schema, "verdict", nlohmann::json::parse(kVerdictSchema)};
  request.n = 3;
  auto constraints = harmony_constraints(vocabulary(), request);
  ASSERT_EQ(constraints.size(), 3u);  // one per choice: each keeps its own state
  for (uint32_t seed = 0; seed < 40; ++seed) {
    auto fresh = harmony_constraints(vocabulary(), request);
    const Walk w = walk(*fresh[seed % 3], seed);
    ASSERT_EQ(w.tokens.back(), vocabulary()->return_) << "seed " << seed;
    expect_valid(kVerdictSchema, w.output.content, "seed " + std::to_string(seed));
  }
}

TEST(HarmonyConstraint, TextAnswersWithAutomaticToolsNeedNoConstraint) {
  EXPECT_TRUE(harmony_constraints(vocabulary(), request_with_tools({})).empty());
}

TEST(HarmonyConstraint, UnenforceableSchemaIs422NamingTheKeyword) {
  ApiRequest request;
  request.response_format = {StructuredOutput::Kind::json_schema, "s",
                             nlohmann::json::parse(R"({"type": "object", "properties": {"a": {"type": "string", "pattern": "x+"}}})")};
  try {
    harmony_constraints(vocabulary(), request);
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 422);
    EXPECT_EQ(e.param(), "response_format.json_schema.schema.properties.a.pattern");
  }
}

}  // namespace
}  // namespace gptoss::server
