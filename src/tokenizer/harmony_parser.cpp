// Streaming parser for model output, after openai/harmony's StreamableParser (src/encoding.rs,
// gpt-oss-model.md §4.6). Differences, all on malformed output: control tokens other than the
// stop tokens inside content are errors rather than text, and errors are a state, not exceptions.
#include <optional>

#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "tokenizer/harmony_tokens.h"
#include "tokenizer/utf8.h"

namespace gptoss::harmony {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const size_t begin = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > begin) parts.emplace_back(s.substr(begin, i - begin));
  }
  return parts;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const Utf8Sequence seq = next_utf8_sequence(s.substr(i));
    if (seq.kind != Utf8Sequence::Kind::valid) return false;
    i += seq.length;
  }
  return true;
}

std::optional<Role> role_from_name(std::string_view name) {
  for (const Role role : {Role::system, Role::developer, Role::user, Role::assistant, Role::tool})
    if (name == role_name(role)) return role;
  return std::nullopt;
}

}  // namespace

Parser::Parser(const Tokenizer& tokenizer)
    : tokenizer_(&tokenizer),
      start_(control_token(tokenizer, kStart)),
      message_(control_token(tokenizer, kMessage)),
      end_(control_token(tokenizer, kEnd)),
      return_(control_token(tokenizer, kReturn)),
      call_(control_token(tokenizer, kCall)),
      channel_(control_token(tokenizer, kChannel)),
      constrain_(control_token(tokenizer, kConstrain)) {
  reset();
}

void Parser::reset() {
  state_ = State::header;
  role_known_ = true;
  header_.clear();
  pending_.clear();
  current_ = Message{};
  current_.role = Role::assistant;
  messages_.clear();
  error_.clear();
}

ParserEvent Parser::feed(int32_t token) {
  if (state_ == State::error) return {};
  try {
    return step(token);
  } catch (const Error& e) {  // an id the tokenizer does not define
    return fail(e.what());
  }
}

ParserEvent Parser::fail(std::string why) {
  state_ = State::error;
  error_ = std::move(why);
  return {ParserEvent::Kind::error, {}, false};
}

ParserEvent Parser::step(int32_t token) {
  switch (state_) {
    case State::expect_start:
      if (token != start_) return fail("expected <|start|> after a finished message, got token " + std::to_string(token));
      state_ = State::header;
      role_known_ = false;
      header_.clear();
      current_ = Message{};
      return {};
    case State::header:
      if (token == message_) return finish_header();
      if (tokenizer_->is_special(token) && token != channel_ && token != constrain_)
        return fail("unexpected " + std::string(tokenizer_->token_bytes(token)) + " in a message header");
      header_ += tokenizer_->token_bytes(token);
      return {};
    case State::content: {
      ParserEvent event;
      auto& content = std::get<std::string>(current_.content);
      if (token == end_ || token == return_ || token == call_) {
        append_utf8_lossy(pending_, event.delta, /*final=*/true);
        pending_.clear();
        content += event.delta;
        messages_.push_back(std::move(current_));
        current_ = Message{};
        state_ = State::expect_start;
        event.kind = ParserEvent::Kind::message_end;
        event.stop = token != end_;
        return event;
      }
      if (tokenizer_->is_special(token))
        return fail("unexpected " + std::string(tokenizer_->token_bytes(token)) + " in message content");
      pending_ += tokenizer_->token_bytes(token);
      pending_.erase(0, append_utf8_lossy(pending_, event.delta, /*final=*/false));
      content += event.delta;
      if (!event.delta.empty()) event.kind = ParserEvent::Kind::content;
      return event;
    }
    case State::error:
      break;
  }
  return {};
}

// The header between <|start|> (or the prompt's `<|start|>assistant`) and <|message|>, as
// harmony's parse_header_from_string reads it: the channel follows <|channel|> up to whitespace
// or '<'; of the remaining whitespace-separated parts the last is the content type (or a
// recipient), the one before it the recipient.
ParserEvent Parser::finish_header() {
  if (!is_valid_utf8(header_)) return fail("message header is not valid UTF-8");
  std::string header = header_;
  std::string channel;
  if (const size_t marker = header.find(kChannel); marker != std::string::npos) {
    const size_t begin = marker + kChannel.size();
    size_t end = begin;
    while (end < header.size() && !is_space(header[end]) && header[end] != '<') ++end;
    if (end == begin) return fail("<|channel|> without a channel name in a message header");
    channel = header.substr(begin, end - begin);
    header = header.substr(0, marker) + header.substr(end);
  }
  // The model may write "to=x<|constrain|>json": give the constraint a part of its own.
  std::string spaced;
  for (size_t i = 0; i < header.size();) {
    if (header.compare(i, kConstrain.size(), kConstrain) == 0) {
      spaced += ' ';
      spaced += kConstrain;
      i += kConstrain.size();
    } else {
      spaced += header[i++];
    }
  }
  std::vector<std::string> parts = split_whitespace(spaced);

  Message message;
  message.role = Role::assistant;
  message.channel = channel;
  if (!role_known_) {
    if (parts.empty()) return fail("message header without a role");
    if (const auto role = role_from_name(parts.front())) {
      message.role = *role;
      if (message.role == Role::tool) message.name = parts.front();
    } else if (parts.size() > 1 || parts.front().starts_with("to=")) {
      // A tool's output: its author is the tool ("functions.get_weather to=assistant").
      message.role = Role::tool;
      message.name = parts.front();
      parts.erase(parts.begin());
    } else {
      return fail("unknown role '" + parts.front() + "' in a message header");
    }
  }
  if (!parts.empty() && parts.front() == role_name(message.role)) parts.erase(parts.begin());
  if (!parts.empty()) {
    const size_t count = parts.size();
    std::string last = std::move(parts.back());
    parts.pop_back();
    if (last.starts_with("to=")) {
      message.recipient = last.substr(3);
    } else if (count == 1 && !last.starts_with(kConstrain)) {
      message.recipient = std::move(last);
    } else {
      message.content_type = std::move(last);
      if (!parts.empty()) {
        const std::string& raw = parts.back();
        message.recipient = raw.starts_with("to=") ? raw.substr(3) : raw;
        parts.pop_back();
      }
    }
  }
  if (!parts.empty()) return fail("unexpected text in a message header: '" + header_ + "'");
  message.content = std::string();
  current_ = std::move(message);
  pending_.clear();
  state_ = State::content;
  return {ParserEvent::Kind::header, {}, false};
}

}  // namespace gptoss::harmony
