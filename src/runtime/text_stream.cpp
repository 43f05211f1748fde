#include "gptoss/text_stream.h"

namespace gptoss {

TextStream::TextStream(const Tokenizer& tokenizer, bool harmony)
    : harmony_(harmony), parser_(tokenizer), decoder_(tokenizer) {}

namespace {
// A harmony header ("<|channel|>commentary to=functions.get_weather <|constrain|>json") is a
// dozen tokens; output that stays in a header much longer is not harmony.
constexpr int kMaxHeaderTokens = 32;
}  // namespace

TextStream::Delta TextStream::feed(int32_t token) {
  Delta delta;
  if (!harmony_) {
    delta.text = decoder_.feed(token);
    return delta;
  }
  tokens_.push_back(token);  // kept while harmony may still break and fall back to plain text
  harmony::ParserEvent event = parser_.feed(token);
  header_tokens_ = parser_.state() == harmony::Parser::State::header ? header_tokens_ + 1 : 0;
  if (header_tokens_ > kMaxHeaderTokens) event.kind = harmony::ParserEvent::Kind::error;
  switch (event.kind) {
    case harmony::ParserEvent::Kind::header:
      delta.message_start = true;
      break;
    case harmony::ParserEvent::Kind::content:
    case harmony::ParserEvent::Kind::message_end:
      delta.text = event.delta;
      break;
    case harmony::ParserEvent::Kind::error:
      return fall_back();
    case harmony::ParserEvent::Kind::none:
      break;
  }
  const harmony::Message& m = event.kind == harmony::ParserEvent::Kind::message_end ? parser_.messages().back()
                                                                                    : parser_.current();
  delta.channel = m.channel;
  delta.recipient = m.recipient;
  return delta;
}

TextStream::Delta TextStream::finish() {
  const bool never_harmony =
      harmony_ && parser_.messages().empty() && parser_.state() == harmony::Parser::State::header && !tokens_.empty();
  Delta delta = never_harmony ? fall_back() : Delta{};
  if (!harmony_) delta.text += decoder_.flush();
  return delta;
}

// Everything generated so far as plain text; plain text from now on.
TextStream::Delta TextStream::fall_back() {
  harmony_ = false;
  Delta delta;
  delta.fell_back = true;
  for (int32_t t : tokens_) delta.text += decoder_.feed(t);
  return delta;
}

}  // namespace gptoss
