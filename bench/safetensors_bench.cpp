// The safetensors header parser on the largest header it accepts: 99 MB of zero-size tensors
// (about 1.6M entries). Issue 10 found a duplicate-key check that made this quadratic (over a
// minute for 5.7 MB); the target is a few seconds.
#include <benchmark/benchmark.h>

#include <string>

#include "io/safetensors.h"

namespace gptoss {
namespace {

// u64 length + a header of zero-size tensors filling `header_bytes`, padded with spaces.
std::string header_file(size_t header_bytes) {
  std::string header = "{";
  for (size_t i = 0; header.size() + 80 < header_bytes; ++i)
    header += (i ? ",\"" : "\"") + std::string("model.layers.") + std::to_string(i) +
              R"(.weight":{"dtype":"BF16","shape":[0,2880],"data_offsets":[0,0]})";
  header += "}";
  header.resize(header_bytes, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return file + header;
}

void BM_ParseSafetensorsHeader(benchmark::State& state) {
  const std::string file = header_file(static_cast<size_t>(state.range(0)));
  size_t tensors = 0;
  for (auto _ : state) {
    const auto header = parse_safetensors_header({reinterpret_cast<const uint8_t*>(file.data()), file.size()}, "bench");
    tensors = header.tensors.size();
    benchmark::DoNotOptimize(tensors);
  }
  state.counters["tensors"] = static_cast<double>(tensors);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
}
BENCHMARK(BM_ParseSafetensorsHeader)->Arg(5'700'000)->Arg(99'000'000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace gptoss
