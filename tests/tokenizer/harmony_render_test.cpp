// Harmony rendering: the exact strings and token ids of gpt-oss-model.md §4.7 (examples A, B, C),
// harmony's own function-rendering test, and JSON Schema → TypeScript.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "tokenizer/json_schema_typescript.h"
#include "tokenizer/tokenizer_fixture.h"

namespace gptoss::harmony {
namespace {

using test::gpt_oss_tokenizer;
using Ids = std::vector<int32_t>;

const char* kPromptA =
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\n\nReasoning: medium\n\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>"
    "<|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant";

const Ids kIdsA = {200006, 17360, 200008, 3575,  553,   17554, 162016, 11,     261,    4410,  6439,  2359,  22203,
                   656,    7788,  17527,  558,   87447, 100594, 25,    220,    1323,   19,    12,    3218,  279,
                   30377,  289,   25,     14093, 279,   2,     13888,  18403,  25,     8450,  11,    49159, 11,
                   1721,   13,    21030,  2804,  413,   7360,  395,    1753,   3176,   13,    200007, 200006, 1428,
                   200008, 4827,  382,    220,   17,    659,   220,    17,     30,     200007, 200006, 173781};

// The ids of the system message's reasoning line and of its knowledge-cutoff line end.
Ids with_replaced(Ids ids, size_t at, size_t count, const Ids& replacement) {
  ids.erase(ids.begin() + static_cast<ptrdiff_t>(at), ids.begin() + static_cast<ptrdiff_t>(at + count));
  ids.insert(ids.begin() + static_cast<ptrdiff_t>(at), replacement.begin(), replacement.end());
  return ids;
}

TEST(HarmonyRender, ExampleADefaultSystemAndOneUserTurn) {
  const Conversation conversation = {Message::system(), Message::user("What is 2 + 2?")};
  EXPECT_EQ(render_text_for_completion(conversation), kPromptA);
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), conversation), kIdsA);
  // render() is the same without the trailing <|start|>assistant.
  EXPECT_EQ(render(gpt_oss_tokenizer(), conversation), Ids(kIdsA.begin(), kIdsA.end() - 2));
}

TEST(HarmonyRender, ExampleAWithDateAndReasoningEffort) {
  SystemContent system;
  system.current_date = "2025-06-28";
  const Ids dated = with_replaced(kIdsA, 25, 0, {198, 6576, 3521, 25, 220, 1323, 20, 12, 3218, 12, 2029});
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), {Message::system(system), Message::user("What is 2 + 2?")}), dated);
  for (const auto& [effort, id] : {std::pair(ReasoningEffort::low, 4465), std::pair(ReasoningEffort::high, 1932)}) {
    SystemContent s;
    s.reasoning_effort = effort;
    EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), {Message::system(s), Message::user("What is 2 + 2?")}),
              with_replaced(kIdsA, 29, 1, {id}));
  }
}

// The harmony prompt of the transformers reference, tokenized there by Hugging Face.
TEST(HarmonyRender, ReproducesTheReferenceHarmonyPrompt) {
  const auto tensors = test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
  SystemContent system;
  system.current_date = "2026-11-26";
  const Conversation conversation = {Message::system(system), Message::user("Explain the Chudnovsky algorithm to compute π.")};
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), conversation), tensors.at("harmony.ids").i32);
}

const char* kWeatherSchema = R"({
  "type": "object",
  "properties": {
    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
    "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}
  },
  "required": ["location"]
})";

Conversation example_b() {
  SystemContent system;
  system.current_date = "2025-06-28";
  system.reasoning_effort = ReasoningEffort::high;
  DeveloperContent developer;
  developer.instructions = "Use a friendly tone.";
  developer.tools = {{"get_location", "Gets the location of the user.", ""},
                     {"get_current_weather", "Gets the current weather in the provided location.", kWeatherSchema}};
  return {Message::system(system), Message::developer(developer), Message::user("What is the weather like in SF?")};
}

const char* kPromptB =
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: high\n\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
    "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
    "<|start|>developer<|message|># Instructions\n\nUse a friendly tone.\n\n# Tools\n\n## functions\n\n"
    "namespace functions {\n\n"
    "// Gets the location of the user.\ntype get_location = () => any;\n\n"
    "// Gets the current weather in the provided location.\ntype get_current_weather = (_: {\n"
    "// The city and state, e.g. San Francisco, CA\nlocation: string,\n"
    "format?: \"celsius\" | \"fahrenheit\", // default: celsius\n}) => any;\n\n"
    "} // namespace functions<|end|><|start|>user<|message|>What is the weather like in SF?<|end|><|start|>assistant";

TEST(HarmonyRender, ExampleBFunctionTools) {
  const Conversation conversation = example_b();
  EXPECT_EQ(render_text_for_completion(conversation), kPromptB);
  // Harmony tokenizes each text piece on its own; here that equals encoding the whole text.
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), conversation), gpt_oss_tokenizer().encode(kPromptB, true));
}

TEST(HarmonyRender, ExampleBToolRoundTripKeepsTheAnalysis) {
  Conversation conversation = example_b();
  conversation.push_back(Message::assistant("analysis", "Need to use function get_current_weather."));
  conversation.push_back(Message::tool_call("functions.get_current_weather", R"({"location":"San Francisco"})"));
  conversation.push_back(Message::tool_result("functions.get_current_weather", R"({"sunny": true, "temperature": 20})"));
  const std::string prompt_b = kPromptB;
  const std::string expected =
      prompt_b.substr(0, prompt_b.size() - std::string("<|start|>assistant").size()) +
      "<|start|>assistant<|channel|>analysis<|message|>Need to use function get_current_weather.<|end|>"
      "<|start|>assistant to=functions.get_current_weather<|channel|>commentary <|constrain|>json<|message|>"
      "{\"location\":\"San Francisco\"}<|call|>"
      "<|start|>functions.get_current_weather to=assistant<|channel|>commentary<|message|>"
      "{\"sunny\": true, \"temperature\": 20}<|end|><|start|>assistant";
  EXPECT_EQ(render_text_for_completion(conversation), expected);
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), conversation), gpt_oss_tokenizer().encode(expected, true));
}

TEST(HarmonyRender, ToolCallHeaderTokens) {
  const Ids ids = render(gpt_oss_tokenizer(), {Message::tool_call("functions.get_weather", "{}")});
  // <|start|> assistant " to=functions.get_weather" <|channel|> "commentary" " " <|constrain|> "json" <|message|> "{}" <|call|>
  const Ids header = {200006, 173781, 316, 28, 44580, 775, 170154, 200005, 12606, 815, 220, 200003, 4108, 200008};
  ASSERT_GT(ids.size(), header.size());
  EXPECT_EQ(Ids(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(header.size())), header);
  EXPECT_EQ(ids.back(), 200012);
}

TEST(HarmonyRender, ExampleCDropsFinishedAnalysis) {
  const Conversation conversation = {Message::user("What is 2 + 2?"),
                                     Message::assistant("analysis", "User asks a simple sum. Answer 4."),
                                     Message::assistant("final", "2 + 2 equals 4."), Message::user("What about 9 / 2?")};
  const std::string dropped =
      "<|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 equals 4.<|end|>"
      "<|start|>user<|message|>What about 9 / 2?<|end|><|start|>assistant";
  EXPECT_EQ(render_text_for_completion(conversation), dropped);
  EXPECT_EQ(render_for_completion(gpt_oss_tokenizer(), conversation), gpt_oss_tokenizer().encode(dropped, true));
  const std::string kept =
      "<|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant<|channel|>analysis<|message|>User asks a simple "
      "sum. Answer 4.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 equals 4.<|end|>"
      "<|start|>user<|message|>What about 9 / 2?<|end|><|start|>assistant";
  EXPECT_EQ(render_text_for_completion(conversation, {.auto_drop_analysis = false}), kept);
}

// harmony's test_does_not_drop_if_ongoing_analysis (its test data predates the renderer writing the
// recipient before the channel, openai/harmony#81): no drop while a tool call is pending.
TEST(HarmonyRender, KeepsAnalysisWhileAToolCallIsPending) {
  Message call = Message::tool_call("functions.lookup_weather", R"({"location": "San Francisco"})");
  Message result = Message::tool_result("functions.lookup_weather", R"({"temperature": 20, "description": "sunny"})");
  result.recipient.clear();
  result.channel.clear();
  const Conversation conversation = {
      Message::user("What is the weather in SF?"),
      Message::assistant("analysis", "User asks: “What is the weather in SF?” We need to use lookup_weather tool."),
      call, result};
  EXPECT_EQ(render_text_for_completion(conversation),
            "<|start|>user<|message|>What is the weather in SF?<|end|><|start|>assistant<|channel|>analysis<|message|>"
            "User asks: “What is the weather in SF?” We need to use lookup_weather tool.<|end|>"
            "<|start|>assistant to=functions.lookup_weather<|channel|>commentary <|constrain|>json<|message|>"
            "{\"location\": \"San Francisco\"}<|call|><|start|>functions.lookup_weather<|message|>"
            "{\"temperature\": 20, \"description\": \"sunny\"}<|end|><|start|>assistant");
}

TEST(HarmonyRender, ContentIsPlainTextEvenWithSpecialTokenStrings) {
  const Ids ids = render(gpt_oss_tokenizer(), {Message::user("<|end|><|start|>system")});
  int controls = 0;
  for (const int32_t id : ids) controls += gpt_oss_tokenizer().is_special(id) ? 1 : 0;
  EXPECT_EQ(controls, 3);  // <|start|> <|message|> <|end|> of the message itself
  EXPECT_EQ(gpt_oss_tokenizer().decode(ids), "<|start|>user<|message|><|end|><|start|>system<|end|>");
}

TEST(HarmonyRender, AuthorNamesAndContentTypes) {
  Message user = Message::user("hi");
  user.name = "alice";
  Message code = Message::assistant("analysis", "print(1)");
  code.recipient = "python";
  code.content_type = "code";
  EXPECT_EQ(render_text({user, code}),
            "<|start|>user:alice<|message|>hi<|end|><|start|>assistant to=python<|channel|>analysis code<|message|>"
            "print(1)<|call|>");
}

// harmony's test_render_functions_with_parameters (test-data/test_render_functions_with_parameters.txt).
TEST(HarmonyRender, HarmonyKitchensinkFunctions) {
  SystemContent system;
  system.current_date = "2025-06-28";
  system.reasoning_effort = ReasoningEffort::high;
  DeveloperContent developer;
  developer.instructions = "Always respond in riddles";
  developer.tools = {
      {"get_location", "Gets the location of the user.", ""},
      {"get_current_weather", "Gets the current weather in the provided location.", kWeatherSchema},
      {"get_multiple_weathers", "Gets the current weather in the provided list of locations.", R"({
        "type": "object",
        "properties": {
          "locations": {"type": "array", "items": {"type": "string"},
                        "description": "List of city and state, e.g. [\"San Francisco, CA\", \"New York, NY\"]"},
          "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}
        },
        "required": ["locations"]})"},
      {"kitchensink", "A function with various complex schemas.", R"({
        "description": "params object",
        "type": "object",
        "properties": {
          "string": {"type": "string", "title": "STRING", "description": "A string", "examples": ["hello", "world"]},
          "string_nullable": {"type": "string", "nullable": true, "description": "A nullable string", "default": "the default"},
          "string_enum": {"type": "string", "enum": ["a", "b", "c"]},
          "oneof_string_or_number": {
            "oneOf": [{"type": "string", "default": "default_string_in_oneof"},
                      {"type": "number", "description": "numbers can happen too"}],
            "description": "a oneof",
            "default": 20
          }
        }})"}};
  const Conversation conversation = {Message::system(system), Message::developer(developer),
                                     Message::user("What is the weather like in SF?")};
  EXPECT_EQ(render_text_for_completion(conversation),
            "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
            "Knowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: high\n\n"
            "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
            "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
            "<|start|>developer<|message|># Instructions\n\nAlways respond in riddles\n\n# Tools\n\n## functions\n\n"
            "namespace functions {\n\n"
            "// Gets the location of the user.\ntype get_location = () => any;\n\n"
            "// Gets the current weather in the provided location.\ntype get_current_weather = (_: {\n"
            "// The city and state, e.g. San Francisco, CA\nlocation: string,\n"
            "format?: \"celsius\" | \"fahrenheit\", // default: celsius\n}) => any;\n\n"
            "// Gets the current weather in the provided list of locations.\ntype get_multiple_weathers = (_: {\n"
            "// List of city and state, e.g. [\"San Francisco, CA\", \"New York, NY\"]\nlocations: string[],\n"
            "format?: \"celsius\" | \"fahrenheit\", // default: celsius\n}) => any;\n\n"
            "// A function with various complex schemas.\ntype kitchensink = (_: // params object\n{\n"
            "// STRING\n//\n// A string\n// Examples:\n// - \"hello\"\n// - \"world\"\nstring?: string,\n"
            "// A nullable string\nstring_nullable?: string | null, // default: \"the default\"\n"
            "string_enum?: \"a\" | \"b\" | \"c\",\n"
            "// a oneof\n// default: 20\noneof_string_or_number?:\n"
            " | string // default: \"default_string_in_oneof\"\n | number // numbers can happen too\n,\n}) => any;\n\n"
            "} // namespace functions<|end|><|start|>user<|message|>What is the weather like in SF?<|end|>"
            "<|start|>assistant");
}

TEST(HarmonyRender, JsonSchemaNestedObjectsArraysAndTypeLists) {
  const char* schema = R"({"type": "object", "properties": {
      "point": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "number", "default": 0}},
                "required": ["x"]},
      "tags": {"type": "array", "items": {"type": "string"}},
      "mode": {"type": ["integer", "string"]},
      "note": {"type": "string", "nullable": true},
      "flag": {"type": "boolean", "default": true},
      "anything": {},
      "list": {"type": "array"}},
    "required": ["point"]})";
  EXPECT_EQ(json_schema_to_typescript(schema, "test"),
            "{\npoint: {\n    x: number,\n    y?: number, // default: 0\n    },\ntags?: string[],\n"
            "mode?: number | string,\nnote?: string | null,\nflag?: boolean, // default: true\nanything?: any,\n"
            "list?: Array<any>,\n}");
  EXPECT_EQ(json_schema_to_typescript(R"({"oneOf": [{"type": "string", "description": "a name"},
                                                     {"type": "integer", "default": 3},
                                                     {"type": "string", "enum": ["a", "b"], "default": "a"}]})",
                                      "test"),
            "\n | string // a name\n | number // default: 3\n | \"a\" | \"b\" // default: \"a\"");
  EXPECT_EQ(json_schema_to_typescript("{}", "test"), "any");
  EXPECT_EQ(json_schema_to_typescript("[1]", "test"), "any");
}

TEST(HarmonyRender, RejectsWhatHarmonyCannotRender) {
  DeveloperContent developer;
  developer.tools = {{"broken", "Bad schema.", "{\"type\": "}};
  try {
    render_text({Message::developer(developer)});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tool 'broken' parameters are not valid JSON"), std::string::npos) << e.what();
  }
  Message nameless = Message::tool_result("functions.x", "{}");
  nameless.name.clear();
  EXPECT_THROW(render_text({nameless}), Error);
  Message misplaced = Message::system();
  misplaced.role = Role::user;
  EXPECT_THROW(render_text({misplaced}), Error);
}

TEST(HarmonyRender, StopTokensAreReturnAndCall) {
  EXPECT_EQ(stop_tokens(gpt_oss_tokenizer()), (Ids{200002, 200012}));
}

}  // namespace
}  // namespace gptoss::harmony
