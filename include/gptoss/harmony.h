// The harmony chat format of gpt-oss (gpt-oss-model.md §4): conversations rendered into prompt
// tokens exactly as openai/harmony renders them, and a streaming parser for what the model writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gptoss/tokenizer.h"

namespace gptoss::harmony {

enum class Role { system, developer, user, assistant, tool };
std::string_view role_name(Role role);  // "system", …, "tool"
enum class ReasoningEffort { low, medium, high };

// The system message (§4.3). An empty string leaves its line out.
struct SystemContent {
  std::string identity = "You are ChatGPT, a large language model trained by OpenAI.";
  std::string knowledge_cutoff = "2024-06";
  std::string current_date;  // "YYYY-MM-DD"
  ReasoningEffort reasoning_effort = ReasoningEffort::medium;
  std::vector<std::string> valid_channels = {"analysis", "commentary", "final"};
  bool channel_required = true;
};

// A function the model may call, declared in the developer message's `functions` namespace (§4.4).
struct FunctionTool {
  std::string name;
  std::string description;
  std::string parameters;  // JSON Schema of the arguments, as JSON text; empty: no arguments
};

struct DeveloperContent {
  std::string instructions;  // empty: no "# Instructions" section
  std::vector<FunctionTool> tools;
};

struct Message {
  Role role = Role::user;
  std::string name;          // author name; a tool message's author is the tool, "functions.get_weather"
  std::string recipient;     // "functions.get_weather" on a tool call, "assistant" on a tool result
  std::string channel;       // "analysis", "commentary", "final"; empty: none
  std::string content_type;  // "<|constrain|>json" on a function call; empty: none
  std::variant<std::string, SystemContent, DeveloperContent> content;

  static Message system(SystemContent content = {});
  static Message developer(DeveloperContent content);
  static Message user(std::string text);
  static Message assistant(std::string channel, std::string text);
  // The assistant calling `recipient` ("functions.get_weather") with JSON `arguments`, on commentary.
  static Message tool_call(std::string recipient, std::string arguments);
  // What `tool` ("functions.get_weather") returned, sent to the assistant on commentary.
  static Message tool_result(std::string tool, std::string output);

  const std::string& text() const;  // the text content; empty for system and developer content
};

using Conversation = std::vector<Message>;

struct RenderOptions {
  // When the last assistant message is a final answer, leave out the analysis messages before the
  // first final answer (harmony's auto_drop_analysis): finished chains of thought are not shown
  // to the model again, while one that led to a pending tool call is.
  bool auto_drop_analysis = true;
};

// Each message as `<|start|>header<|message|>content<|end|>` (`<|call|>` after a tool call), the
// header being role, recipient, channel, content type in harmony's renderer order (the model
// itself writes the channel before the recipient: openai/harmony#81). Text is tokenized as plain
// text, so special-token strings in it stay text; control tokens are their ids.
// Throws gptoss::Error for a message harmony cannot render (a tool message without a name, a
// tool whose parameters are not JSON, system content outside a system message, …).
std::vector<int32_t> render(const Tokenizer& tokenizer, const Conversation& conversation,
                            const RenderOptions& options = {});
// The same followed by `<|start|>assistant`: the prompt for the model's next message.
std::vector<int32_t> render_for_completion(const Tokenizer& tokenizer, const Conversation& conversation,
                                           const RenderOptions& options = {});
// The text of render() and render_for_completion(), control tokens written out.
std::string render_text(const Conversation& conversation, const RenderOptions& options = {});
std::string render_text_for_completion(const Conversation& conversation, const RenderOptions& options = {});

// "low", "medium" or "high" (the system message's "Reasoning:" line); nothing for other names.
std::optional<ReasoningEffort> parse_reasoning_effort(std::string_view name);

// Today's local date as "YYYY-MM-DD", for SystemContent::current_date.
std::string current_date();

// The tokens that end the assistant's turn, where sampling stops: <|return|> and <|call|>. Not
// <|end|>, which separates the analysis from the final answer within one completion.
std::vector<int32_t> stop_tokens(const Tokenizer& tokenizer);

struct ParserEvent {
  enum class Kind {
    none,         // the token was taken in: header text, or part of a UTF-8 character
    header,       // <|message|>: current() has its role, channel, recipient and content type
    content,      // `delta` continues current()'s content
    message_end,  // the message is complete: messages().back()
    error,        // the stream is malformed: error() says how; later tokens are ignored
  };
  Kind kind = Kind::none;
  // New content text, whole UTF-8 characters (U+FFFD for bytes that form none); message_end may
  // carry a last U+FFFD for a character the message ended inside.
  std::string delta;
  bool stop = false;  // message_end by <|return|> or <|call|>: the turn is over
};

// Turns the tokens the model generates after a render_for_completion() prompt into messages, one
// token at a time (§4.6). It starts inside an assistant header, as the prompt ends with
// `<|start|>assistant`, and accepts the recipient before or after the channel, with or without a
// space before `<|constrain|>`. Later messages must begin with `<|start|>`.
class Parser {
 public:
  // Throws gptoss::Error if the tokenizer lacks the harmony control tokens.
  explicit Parser(const Tokenizer& tokenizer);

  // Never throws for malformed model output: that puts the parser in the error state instead.
  ParserEvent feed(int32_t token);
  // Back to the start of a completion: no messages, no error.
  void reset();

  enum class State { header, content, expect_start, error };
  State state() const { return state_; }
  const std::string& error() const { return error_; }
  // The message being parsed: header fields once known, the content so far.
  const Message& current() const { return current_; }
  const std::vector<Message>& messages() const { return messages_; }

 private:
  ParserEvent step(int32_t token);
  ParserEvent fail(std::string why);
  ParserEvent finish_header();

  const Tokenizer* tokenizer_;
  int32_t start_, message_, end_, return_, call_, channel_, constrain_;
  State state_ = State::header;
  bool role_known_ = true;  // the first header's role comes from the prompt
  std::string header_;      // header text so far
  std::string pending_;     // content bytes of an unfinished UTF-8 character
  Message current_;
  std::vector<Message> messages_;
  std::string error_;
};

}  // namespace gptoss::harmony
