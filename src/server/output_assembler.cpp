// Harmony tokens → API events. The parser reads the message structure; the text of each message
// comes from our own StreamingDecoder, whose bytes of an unfinished character are never lost
// when the message ends or the output breaks. Once the output breaks harmony, every token not yet
// reported — the broken message's header included — is shown as plain content.
#include "server/output_assembler.h"

#include "gptoss/error.h"
#include "server/content_stream.h"
#include "tokenizer/harmony_tokens.h"

namespace gptoss::server {

namespace {

// A harmony header ("<|channel|>commentary to=functions.get_weather <|constrain|>json") is a
// dozen tokens; output that stays in one much longer is not harmony (TextStream decides alike),
// and is shown as it comes rather than held back until the end.
constexpr size_t kMaxHeaderTokens = 32;

constexpr std::string_view kFunctionsNamespace = "functions.";

bool known_channel(const std::string& channel) {
  return channel.empty() || channel == "analysis" || channel == "commentary" || channel == "final";
}

// A token's bytes; nothing for an id the tokenizer does not define (a top_logprobs entry from the
// model's padding rows).
std::string_view token_text(const Tokenizer& tokenizer, int32_t id) {
  try {
    return tokenizer.token_bytes(id);
  } catch (const Error&) {
    return {};
  }
}

std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

TokenLogprob token_logprob(const Tokenizer& tokenizer, const TokenEvent& event) {
  TokenLogprob out;
  out.token = token_text(tokenizer, event.token);
  out.bytes = bytes_of(out.token);
  out.logprob = event.logprob;
  for (const auto& [id, logprob] : event.top_logprobs) {
    const std::string_view text = token_text(tokenizer, id);
    out.top.emplace_back(std::string(text), logprob);
    out.top_bytes.push_back(bytes_of(text));
  }
  return out;
}

// Content the stop-string search let through, as an event; nothing when it held all of it back.
std::optional<OutputEvent> content_event(ContentStream::Released released) {
  if (released.empty()) return std::nullopt;
  OutputEvent event;
  event.kind = OutputEvent::Kind::content;
  event.text = std::move(released.text);
  event.logprobs = std::move(released.logprobs);
  return event;
}

std::string& text_of(harmony::Message& message) { return std::get<std::string>(message.content); }

}  // namespace

OutputEvent::Kind message_kind(const harmony::Message& message) {
  if (!message.recipient.empty()) return OutputEvent::Kind::tool_call_start;
  if (message.channel == "analysis") return OutputEvent::Kind::reasoning;
  return OutputEvent::Kind::content;
}

OutputAssembler::OutputAssembler(const Tokenizer& tokenizer, Options options)
    : tokenizer_(&tokenizer),
      options_(std::move(options)),
      parser_(tokenizer),
      call_token_(harmony::control_token(tokenizer, harmony::kCall)),
      content_(std::make_unique<ContentStream>(options_.stop)),
      decoder_(tokenizer),
      harmony_(options_.harmony) {
  if (!harmony_) {
    message_ = harmony::Message::assistant("final", "");
    in_message_ = true;
  }
}

OutputAssembler::OutputAssembler(OutputAssembler&&) noexcept = default;
OutputAssembler::~OutputAssembler() = default;

bool OutputAssembler::stopped() const { return stopped_; }
const AssembledOutput& OutputAssembler::output() const { return output_; }

std::vector<OutputEvent> OutputAssembler::feed(const TokenEvent& token) {
  ++output_.completion_tokens;
  ended_with_call_ = false;
  Events events;
  if (stopped_) return events;  // tokens of the step that found the stop string still count
  if (harmony_)
    feed_harmony(token, events);
  else
    feed_plain(token, events);
  return events;
}

void OutputAssembler::feed_harmony(const TokenEvent& token, Events& events) {
  using State = harmony::Parser::State;
  const bool in_content = parser_.state() == State::content;
  const OutputEvent::Kind kind = message_kind(message_);
  if (!in_content) header_.push_back(token);
  if (in_content && kind == OutputEvent::Kind::reasoning) ++output_.reasoning_tokens;

  const harmony::ParserEvent event = parser_.feed(token.token);
  switch (event.kind) {
    case harmony::ParserEvent::Kind::header:
      on_header(events);
      break;
    case harmony::ParserEvent::Kind::none:
    case harmony::ParserEvent::Kind::content:
      if (in_content)
        emit_text(decoder_.feed(token.token), &token, events);
      else if (header_.size() > kMaxHeaderTokens)
        fall_back(events);
      break;
    case harmony::ParserEvent::Kind::message_end:
      ended_with_call_ = token.token == call_token_ && kind == OutputEvent::Kind::tool_call_start;
      end_message(events);
      break;
    case harmony::ParserEvent::Kind::error:
      if (in_content) {  // a control token inside content: the message so far stands
        end_message(events);
        header_.push_back(token);
      }
      fall_back(events);
      break;
  }
}

void OutputAssembler::on_header(Events& events) {
  const harmony::Message& header = parser_.current();
  // The model writing another role's turn, or on a channel harmony does not have, is not an
  // answer we can report as such.
  if (header.role != harmony::Role::assistant || !known_channel(header.channel)) return fall_back(events);
  message_ = header;
  in_message_ = true;
  switch (message_kind(message_)) {
    case OutputEvent::Kind::reasoning:
      output_.reasoning_tokens += static_cast<int>(header_.size());
      break;
    case OutputEvent::Kind::tool_call_start: {
      OutputEvent start;
      start.kind = OutputEvent::Kind::tool_call_start;
      start.tool_index = static_cast<int>(output_.tool_calls.size());
      start.call_id = options_.call_id_prefix + "_" + std::to_string(start.tool_index);
      start.name = message_.recipient;
      if (start.name.starts_with(kFunctionsNamespace)) start.name.erase(0, kFunctionsNamespace.size());
      emit(std::move(start), events);
      break;
    }
    default:
      break;
  }
  header_.clear();
}

void OutputAssembler::end_message(Events& events) {
  emit_text(decoder_.flush(), nullptr, events);
  if (message_kind(message_) == OutputEvent::Kind::content && !stopped_) emit_held_content(events);
  if (in_message_) output_.messages.push_back(std::move(message_));
  in_message_ = false;
  header_.clear();
}

// Plain text from here on, beginning with the tokens of the message that broke.
void OutputAssembler::fall_back(Events& events) {
  harmony_ = false;
  message_ = harmony::Message::assistant("final", "");
  in_message_ = true;
  const std::vector<TokenEvent> unreported = std::move(header_);
  header_.clear();
  for (const TokenEvent& token : unreported)
    if (!stopped_) feed_plain(token, events);
}

void OutputAssembler::feed_plain(const TokenEvent& token, Events& events) {
  if (held_special_) {
    const TokenEvent held = std::move(*held_special_);
    held_special_.reset();
    emit_content(decoder_.feed(held.token), &held, events);
    if (stopped_) return;
  }
  if (tokenizer_->is_special(token.token)) {
    held_special_ = token;
    return;
  }
  std::string text;
  try {
    text = decoder_.feed(token.token);
  } catch (const Error&) {  // an id the tokenizer does not define has no text to show
  }
  emit_content(text, &token, events);
}

// Text of the current message, reported as what the message is.
void OutputAssembler::emit_text(std::string text, const TokenEvent* token, Events& events) {
  OutputEvent event;
  event.kind = message_kind(message_);
  if (event.kind == OutputEvent::Kind::content) return emit_content(text, token, events);
  if (text.empty()) return;
  if (event.kind == OutputEvent::Kind::tool_call_start) {
    event.kind = OutputEvent::Kind::tool_call_arguments;
    event.tool_index = static_cast<int>(output_.tool_calls.size()) - 1;
  }
  event.text = std::move(text);
  emit(std::move(event), events);
}

void OutputAssembler::emit_content(std::string_view text, const TokenEvent* token, Events& events) {
  std::optional<TokenLogprob> logprob;
  if (options_.logprobs && token) logprob = token_logprob(*tokenizer_, *token);
  if (text.empty() && !logprob) return;
  ContentStream::Released released = content_->feed(text, std::move(logprob));
  stopped_ = content_->stopped();
  if (auto event = content_event(std::move(released))) emit(std::move(*event), events);
}

void OutputAssembler::emit_held_content(Events& events) {
  if (auto event = content_event(content_->flush())) emit(std::move(*event), events);
}

// Every event passes here, so that output() is always what the events add up to.
void OutputAssembler::emit(OutputEvent event, Events& events) {
  switch (event.kind) {
    case OutputEvent::Kind::reasoning:
      output_.reasoning += event.text;
      break;
    case OutputEvent::Kind::content:
      output_.content += event.text;
      output_.logprobs.insert(output_.logprobs.end(), event.logprobs.begin(), event.logprobs.end());
      break;
    case OutputEvent::Kind::tool_call_start:
      output_.tool_calls.push_back({event.call_id, event.name, {}});
      break;
    case OutputEvent::Kind::tool_call_arguments:
      output_.tool_calls[event.tool_index].arguments += event.text;
      break;
  }
  text_of(message_) += event.text;
  events.push_back(std::move(event));
}

std::vector<OutputEvent> OutputAssembler::finish(FinishReason reason) {
  Events events;
  if (!stopped_ && harmony_) {
    if (parser_.state() == harmony::Parser::State::content)
      end_message(events);  // cut off inside a message
    else if (!header_.empty())
      fall_back(events);  // cut off inside a header, or text that never had one
  }
  if (!stopped_ && !harmony_) {
    // A control token that ended the answer is the stop token, not text.
    if (held_special_ && reason != FinishReason::stop) emit_content(decoder_.feed(held_special_->token), &*held_special_, events);
    held_special_.reset();
    if (!stopped_) emit_content(decoder_.flush(), nullptr, events);
    if (!stopped_) emit_held_content(events);
  }
  if (in_message_ && (!text_of(message_).empty() || message_kind(message_) == OutputEvent::Kind::tool_call_start))
    output_.messages.push_back(std::move(message_));
  in_message_ = false;

  switch (reason) {
    case FinishReason::stop:
      output_.finish_reason = ended_with_call_ ? "tool_calls" : "stop";
      break;
    case FinishReason::length:
    case FinishReason::context_full:
      output_.finish_reason = "length";
      break;
    case FinishReason::none:
    case FinishReason::cancelled:
      output_.finish_reason.clear();
      break;
  }
  if (stopped_) output_.finish_reason = "stop";
  return events;
}

}  // namespace gptoss::server
