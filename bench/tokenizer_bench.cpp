// The tokenizer: loading gpt-oss's tokenizer.json (28 MB: 200k tokens, 446k merges) and encoding
// all of WikiText-2's test split (1.29 MB), each on one core. Targets: both under 1 s.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "gptoss/tokenizer.h"

namespace gptoss {
namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer loaded = Tokenizer::load(GPTOSS_TINY_MODEL_DIR);
  return loaded;
}

std::string wiki_text() {
  std::ifstream in(std::string(GPTOSS_TEST_DATA_DIR) + "/wikitext-2-raw/wiki.test.raw", std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void BM_LoadTokenizerJson(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Tokenizer::load(GPTOSS_TINY_MODEL_DIR).vocab_size());
}
BENCHMARK(BM_LoadTokenizerJson)->Unit(benchmark::kMillisecond);

// The first iteration runs with an empty BPE cache; later ones find most merged words in it.
void BM_EncodeWikiText(benchmark::State& state) {
  const std::string text = wiki_text();
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tokenizer().encode(text, /*allow_special=*/false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens"] = static_cast<double>(tokens);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeWikiText)->Unit(benchmark::kMillisecond);

void BM_DecodeWikiText(benchmark::State& state) {
  const auto ids = tokenizer().encode(wiki_text(), /*allow_special=*/false);
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer().decode(ids).size());
  state.counters["tokens"] = static_cast<double>(ids.size());
}
BENCHMARK(BM_DecodeWikiText)->Unit(benchmark::kMillisecond);

// 10M copies of one character (issue 10): a single huge piece for letters, spaces and
// newlines, 3.3M pieces for digits. The argument is the character.
void BM_EncodeTenMillionIdentical(benchmark::State& state) {
  const std::string text(10'000'000, static_cast<char>(state.range(0)));
  size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tokenizer().encode(text, /*allow_special=*/false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeTenMillionIdentical)->Arg('a')->Arg('A')->Arg(' ')->Arg('7')->Arg('\n')->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace gptoss
