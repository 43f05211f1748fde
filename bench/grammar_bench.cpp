// Token masks for structured outputs on gpt-oss's vocabulary (200k tokens), one per generated
// token, at typical states: the start of a document and of an object, inside a string (where
// nearly every token is allowed), inside a number, at a free key. Also the one-off cost of
// building the Vocabulary. Target: a few milliseconds or less per mask.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "gptoss/tokenizer.h"
#include "grammar/json_schema.h"
#include "grammar/token_mask.h"

namespace gptoss::grammar {
namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer loaded = Tokenizer::load(GPTOSS_TINY_MODEL_DIR);
  return loaded;
}

const Vocabulary& vocabulary() {
  static const Vocabulary built(tokenizer());
  return built;
}

// A tool's parameters, as OpenAI's strict mode writes them.
constexpr const char* kWeatherSchema = R"({"type": "object", "properties": {
    "location": {"type": "string", "description": "City and country"},
    "days": {"type": "integer"},
    "unit": {"enum": ["celsius", "fahrenheit"]},
    "hourly": {"type": "boolean"}},
  "required": ["location", "days", "unit", "hourly"], "additionalProperties": false})";

// The mask after `prefix` (tokenized as plain text) of a document of `schema`.
void mask_after(benchmark::State& state, const char* schema, const std::string& prefix) {
  const auto grammar = std::make_shared<const Grammar>(compile_json_schema(nlohmann::ordered_json::parse(schema)));
  JsonConstraint constraint(grammar, vocabulary());
  for (const int32_t token : tokenizer().encode(prefix, /*allow_special=*/false)) constraint.accept(token);
  std::vector<uint32_t> bits((vocabulary().size() + 31) / 32);
  size_t allowed = 0;
  for (auto _ : state) {
    std::fill(bits.begin(), bits.end(), 0);
    allowed = constraint.allowed_tokens(bits);
    benchmark::DoNotOptimize(bits.data());
  }
  state.counters["allowed"] = static_cast<double>(allowed);
}

void BM_BuildVocabulary(benchmark::State& state) {
  const Tokenizer& loaded = tokenizer();  // loaded before timing
  for (auto _ : state) benchmark::DoNotOptimize(Vocabulary(loaded).size());
}
BENCHMARK(BM_BuildVocabulary)->Unit(benchmark::kMillisecond);

void BM_MaskDocumentStart(benchmark::State& state) { mask_after(state, kWeatherSchema, ""); }
BENCHMARK(BM_MaskDocumentStart)->Unit(benchmark::kMicrosecond);

void BM_MaskObjectStart(benchmark::State& state) { mask_after(state, kWeatherSchema, "{"); }
BENCHMARK(BM_MaskObjectStart)->Unit(benchmark::kMicrosecond);

void BM_MaskInsideString(benchmark::State& state) { mask_after(state, kWeatherSchema, R"({"location": "Par)"); }
BENCHMARK(BM_MaskInsideString)->Unit(benchmark::kMicrosecond);

void BM_MaskInsideBoundedString(benchmark::State& state) {
  mask_after(state, R"({"type": "string", "maxLength": 40})", R"("Paris is the capital)");
}
BENCHMARK(BM_MaskInsideBoundedString)->Unit(benchmark::kMicrosecond);

void BM_MaskInsideNumber(benchmark::State& state) { mask_after(state, kWeatherSchema, R"({"location": "Paris", "days": 12)"); }
BENCHMARK(BM_MaskInsideNumber)->Unit(benchmark::kMicrosecond);

void BM_MaskEnumValue(benchmark::State& state) {
  mask_after(state, kWeatherSchema, R"({"location": "Paris", "days": 3, "unit": )");
}
BENCHMARK(BM_MaskEnumValue)->Unit(benchmark::kMicrosecond);

// json_object mode: after '{' any key may be written.
void BM_MaskAnyObjectKey(benchmark::State& state) { mask_after(state, R"({"type": "object"})", R"({")"); }
BENCHMARK(BM_MaskAnyObjectKey)->Unit(benchmark::kMicrosecond);

void BM_MaskAnyValue(benchmark::State& state) { mask_after(state, R"({"type": "object"})", R"({"a": [1, )"); }
BENCHMARK(BM_MaskAnyValue)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gptoss::grammar
