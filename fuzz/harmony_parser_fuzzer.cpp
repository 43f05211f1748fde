// Feeds arbitrary token streams to the harmony parser: it must never throw or crash, only report
// errors through its state, emit whole UTF-8 characters, and recover with reset().
//
// Every 3 input bytes are one token: a little-endian 24-bit value below 201100 is that id (the
// model's ids, a few beyond the tokenizer's); larger values pick one of the harmony control tokens
// or an invalid id, so that the fuzzer explores message structure more than text.
//
// The tokenizer.json is $GPTOSS_TOKENIZER (the file or a model directory holding it), else the
// tiny model's that the build unpacks. Run e.g.
//   ./build-fuzz/fuzz/fuzz_harmony_parser -max_total_time=60 fuzz/corpus/harmony_parser
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>

#include "gptoss/harmony.h"
#include "tokenizer/utf8.h"

namespace {

const gptoss::Tokenizer& tokenizer() {
  static const gptoss::Tokenizer loaded = gptoss::Tokenizer::load(
      std::getenv("GPTOSS_TOKENIZER") != nullptr ? std::getenv("GPTOSS_TOKENIZER") : GPTOSS_TINY_MODEL_DIR);
  return loaded;
}

constexpr int32_t kControls[] = {200002, 200003, 200005, 200006, 200007, 200008, 200012,
                                 199998, 199999, 200018, 173781, 220,    -1,     201088};

bool valid_utf8(const std::string& text) {
  std::string copy;
  gptoss::append_utf8_lossy(text, copy, /*final=*/true);
  return copy == text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gptoss::harmony::ParserEvent;
  gptoss::harmony::Parser parser(tokenizer());
  for (size_t i = 0; i + 3 <= size; i += 3) {
    const uint32_t value = data[i] | (uint32_t{data[i + 1]} << 8) | (uint32_t{data[i + 2]} << 16);
    const auto token = value < 201100 ? static_cast<int32_t>(value) : kControls[value % std::size(kControls)];
    const ParserEvent event = parser.feed(token);
    if (!valid_utf8(event.delta)) std::abort();
    if ((event.kind == ParserEvent::Kind::error) != (parser.state() == gptoss::harmony::Parser::State::error &&
                                                     !parser.error().empty()))
      std::abort();
    if (event.kind == ParserEvent::Kind::message_end && !valid_utf8(parser.messages().back().text())) std::abort();
    if (parser.state() == gptoss::harmony::Parser::State::error) parser.reset();
  }
  return 0;
}
