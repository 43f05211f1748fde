// Shorthands for the messages of a harmony conversation (gpt-oss-model.md §4.2, §4.5).
#include "gptoss/harmony.h"

namespace gptoss::harmony {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::system: return "system";
    case Role::developer: return "developer";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "";
}

Message Message::system(SystemContent content) {
  Message m;
  m.role = Role::system;
  m.content = std::move(content);
  return m;
}

Message Message::developer(DeveloperContent content) {
  Message m;
  m.role = Role::developer;
  m.content = std::move(content);
  return m;
}

Message Message::user(std::string text) {
  Message m;
  m.content = std::move(text);
  return m;
}

Message Message::assistant(std::string channel, std::string text) {
  Message m;
  m.role = Role::assistant;
  m.channel = std::move(channel);
  m.content = std::move(text);
  return m;
}

Message Message::tool_call(std::string recipient, std::string arguments) {
  Message m;
  m.role = Role::assistant;
  m.recipient = std::move(recipient);
  m.channel = "commentary";
  m.content_type = "<|constrain|>json";
  m.content = std::move(arguments);
  return m;
}

Message Message::tool_result(std::string tool, std::string output) {
  Message m;
  m.role = Role::tool;
  m.name = std::move(tool);
  m.recipient = "assistant";
  m.channel = "commentary";
  m.content = std::move(output);
  return m;
}

const std::string& Message::text() const {
  static const std::string empty;
  const auto* text = std::get_if<std::string>(&content);
  return text != nullptr ? *text : empty;
}

}  // namespace gptoss::harmony
