// Encodes arbitrary bytes with the gpt-oss tokenizer, special tokens recognized and not: decode
// must give back exactly the bytes, and the streaming decoder must give the same text as a lossy
// UTF-8 conversion of them, never crash or read out of bounds.
//
// The tokenizer.json is $GPTOSS_TOKENIZER (the file or a model directory holding it), else the
// tiny model's that the build unpacks. Run e.g.
//   ./build-fuzz/fuzz/fuzz_tokenizer -max_total_time=60 fuzz/corpus/tokenizer
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gptoss/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

const gptoss::Tokenizer& tokenizer() {
  static const gptoss::Tokenizer loaded = gptoss::Tokenizer::load(
      std::getenv("GPTOSS_TOKENIZER") != nullptr ? std::getenv("GPTOSS_TOKENIZER") : GPTOSS_TINY_MODEL_DIR);
  return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string lossy;
  gptoss::append_utf8_lossy(text, lossy, /*final=*/true);
  for (const bool allow_special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer().encode(text, allow_special);
    if (tokenizer().decode(ids) != text) std::abort();
    gptoss::StreamingDecoder decoder(tokenizer());
    std::string streamed;
    for (const int32_t id : ids) streamed += decoder.feed(id);
    streamed += decoder.flush();
    if (streamed != lossy) std::abort();
  }
  return 0;
}
