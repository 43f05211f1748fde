// Conversation → prompt, following openai/harmony's renderer (src/encoding.rs) rule for rule:
// gpt-oss-model.md §4.2–4.5 and the worked examples of §4.7.
#include <ctime>
#include <optional>

#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "tokenizer/harmony_tokens.h"
#include "tokenizer/json_schema_typescript.h"

namespace gptoss::harmony {

namespace {

// The rendering before tokenization: harmony tokenizes every text piece on its own, so piece
// boundaries are part of the result (" to=functions.x" is not tokenized together with "assistant").
struct Piece {
  bool control;  // a control token such as <|start|>; otherwise text
  std::string text;
};

class Pieces {
 public:
  void text(std::string text) {
    if (!text.empty()) list_.push_back({false, std::move(text)});
  }
  void control(std::string_view token) { list_.push_back({true, std::string(token)}); }
  const std::vector<Piece>& list() const { return list_; }

 private:
  std::vector<Piece> list_;
};

std::string_view effort_name(ReasoningEffort effort) {
  switch (effort) {
    case ReasoningEffort::low: return "low";
    case ReasoningEffort::medium: return "medium";
    case ReasoningEffort::high: return "high";
  }
  return "";
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// Rust's str::lines(): split at '\n' (dropping a '\r' before it), no empty last line.
std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (end != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);
    out.emplace_back(line);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return out;
}

// template_tools_section for the one namespace, `functions`, that function tools live in.
std::string tools_section(const std::vector<FunctionTool>& tools) {
  std::vector<std::string> parts = {"## functions\n", "namespace functions {\n"};
  for (const auto& tool : tools) {
    for (auto& line : lines(tool.description)) parts.push_back("// " + line);
    if (tool.parameters.empty()) {
      parts.push_back("type " + tool.name + " = () => any;\n");
    } else {
      const std::string type = json_schema_to_typescript(tool.parameters, "harmony: tool '" + tool.name + "' parameters");
      parts.push_back("type " + tool.name + " = (_: " + type + ") => any;\n");
    }
  }
  parts.push_back("} // namespace functions");
  return "# Tools\n\n" + join(parts, "\n");
}

std::string system_text(const SystemContent& system, bool has_function_tools) {
  std::vector<std::string> sections, top;
  if (!system.identity.empty()) top.push_back(system.identity);
  if (!system.knowledge_cutoff.empty()) top.push_back("Knowledge cutoff: " + system.knowledge_cutoff);
  if (!system.current_date.empty()) top.push_back("Current date: " + system.current_date);
  if (!top.empty()) sections.push_back(join(top, "\n"));
  sections.push_back("Reasoning: " + std::string(effort_name(system.reasoning_effort)));
  if (!system.valid_channels.empty()) {
    std::string channels = "# Valid channels: " + join(system.valid_channels, ", ") + ".";
    if (system.channel_required) channels += " Channel must be included for every message.";
    if (has_function_tools) channels += "\nCalls to these tools must go to the commentary channel: 'functions'.";
    sections.push_back(std::move(channels));
  }
  return join(sections, "\n\n");
}

std::string developer_text(const DeveloperContent& developer) {
  std::vector<std::string> sections;
  if (!developer.instructions.empty()) {
    sections.push_back("# Instructions");
    sections.push_back(developer.instructions);
  }
  if (!developer.tools.empty()) sections.push_back(tools_section(developer.tools));
  return join(sections, "\n\n");
}

void render_message(const Message& message, bool has_function_tools, Pieces& out) {
  out.control(kStart);
  if (message.role == Role::tool) {
    if (message.name.empty()) throw Error("harmony: a tool message needs the tool's name as its author name");
    out.text(message.name);
  } else {
    out.text(std::string(role_name(message.role)));
    if (!message.name.empty()) out.text(":" + message.name);
  }
  if (!message.recipient.empty() && message.recipient != "all") out.text(" to=" + message.recipient);
  if (!message.channel.empty()) {
    out.control(kChannel);
    out.text(message.channel);
  }
  if (message.content_type.starts_with(kConstrain)) {
    // The constraint marker is a control token between a space and the format ("json").
    out.text(" ");
    out.control(kConstrain);
    out.text(message.content_type.substr(kConstrain.size()));
  } else if (!message.content_type.empty()) {
    out.text(" " + message.content_type);
  }
  out.control(kMessage);
  if (const auto* system = std::get_if<SystemContent>(&message.content)) {
    if (message.role != Role::system) throw Error("harmony: system content is only allowed in a system message");
    out.text(system_text(*system, has_function_tools));
  } else if (const auto* developer = std::get_if<DeveloperContent>(&message.content)) {
    if (message.role != Role::developer)
      throw Error("harmony: developer content is only allowed in a developer message");
    out.text(developer_text(*developer));
  } else {
    out.text(message.text());
  }
  out.control(message.role == Role::assistant && !message.recipient.empty() ? kCall : kEnd);
}

Pieces render_pieces(const Conversation& conversation, const RenderOptions& options, bool for_completion) {
  bool has_function_tools = false;
  for (const auto& message : conversation)
    if (const auto* developer = std::get_if<DeveloperContent>(&message.content))
      has_function_tools = has_function_tools || !developer->tools.empty();
  // Harmony's rule: only when the last assistant message is final, and only analysis before the
  // first final message (of any turn).
  bool last_assistant_is_final = false;
  for (auto it = conversation.rbegin(); it != conversation.rend(); ++it) {
    if (it->role == Role::assistant) {
      last_assistant_is_final = it->channel == "final";
      break;
    }
  }
  std::optional<size_t> first_final;
  for (size_t i = 0; i < conversation.size() && !first_final; ++i)
    if (conversation[i].channel == "final") first_final = i;
  const bool drop = options.auto_drop_analysis && last_assistant_is_final && first_final;

  Pieces out;
  for (size_t i = 0; i < conversation.size(); ++i) {
    if (drop && i < *first_final && conversation[i].channel == "analysis") continue;
    render_message(conversation[i], has_function_tools, out);
  }
  if (for_completion) {
    out.control(kStart);
    out.text("assistant");
  }
  return out;
}

std::vector<int32_t> to_tokens(const Tokenizer& tokenizer, const Pieces& pieces) {
  std::vector<int32_t> ids;
  for (const auto& piece : pieces.list()) {
    if (piece.control) {
      ids.push_back(control_token(tokenizer, piece.text));
    } else {
      const auto text = tokenizer.encode(piece.text, /*allow_special=*/false);
      ids.insert(ids.end(), text.begin(), text.end());
    }
  }
  return ids;
}

std::string to_text(const Pieces& pieces) {
  std::string text;
  for (const auto& piece : pieces.list()) text += piece.text;
  return text;
}

}  // namespace

std::vector<int32_t> render(const Tokenizer& tokenizer, const Conversation& conversation, const RenderOptions& options) {
  return to_tokens(tokenizer, render_pieces(conversation, options, false));
}

std::vector<int32_t> render_for_completion(const Tokenizer& tokenizer, const Conversation& conversation,
                                           const RenderOptions& options) {
  return to_tokens(tokenizer, render_pieces(conversation, options, true));
}

std::string render_text(const Conversation& conversation, const RenderOptions& options) {
  return to_text(render_pieces(conversation, options, false));
}

std::string render_text_for_completion(const Conversation& conversation, const RenderOptions& options) {
  return to_text(render_pieces(conversation, options, true));
}

std::vector<int32_t> stop_tokens(const Tokenizer& tokenizer) {
  return {control_token(tokenizer, kReturn), control_token(tokenizer, kCall)};
}

std::optional<ReasoningEffort> parse_reasoning_effort(std::string_view name) {
  for (const ReasoningEffort effort : {ReasoningEffort::low, ReasoningEffort::medium, ReasoningEffort::high})
    if (name == effort_name(effort)) return effort;
  return std::nullopt;
}

std::string current_date() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

}  // namespace gptoss::harmony
