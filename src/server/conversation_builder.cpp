#include "server/conversation_builder.h"

namespace gptoss::server {

using harmony::Message;

void ConversationBuilder::add_instructions(const std::string& text) {
  if (!text.empty()) instructions_.push_back(text);
}

void ConversationBuilder::continue_from(const StoredResponse& previous) {
  for (const Message& message : previous.conversation)
    if (std::holds_alternative<std::string>(message.content)) turns_.push_back(message);
  for (const auto& [id, name] : previous.tool_call_names) tool_call_names_[id] = name;
}

void ConversationBuilder::add_user(std::string text) { turns_.push_back(Message::user(std::move(text))); }

void ConversationBuilder::add_reasoning(std::string text) {
  if (!text.empty()) turns_.push_back(Message::assistant("analysis", std::move(text)));
}

void ConversationBuilder::add_assistant(std::string text) {
  turns_.push_back(Message::assistant("final", std::move(text)));
}

void ConversationBuilder::add_tool_call(const std::string& id, const std::string& name, std::string arguments) {
  // A final message ends the assistant's turn in harmony, so text before a call in the same
  // turn is a preamble, which belongs on commentary.
  for (auto it = turns_.rbegin(); it != turns_.rend() && it->role == harmony::Role::assistant; ++it)
    if (it->channel == "final") it->channel = "commentary";
  turns_.push_back(Message::tool_call("functions." + name, std::move(arguments)));
  tool_call_names_[id] = name;
}

bool ConversationBuilder::add_tool_result(const std::string& id, std::string output) {
  const auto call = tool_call_names_.find(id);
  if (call == tool_call_names_.end()) return false;
  turns_.push_back(Message::tool_result("functions." + call->second, std::move(output)));
  return true;
}

harmony::Conversation ConversationBuilder::build(harmony::ReasoningEffort effort,
                                                 const std::string& current_date) const {
  harmony::SystemContent system;
  system.reasoning_effort = effort;
  system.current_date = current_date.empty() ? harmony::current_date() : current_date;
  harmony::Conversation conversation = {Message::system(std::move(system))};
  if (!instructions_.empty() || !tools_.empty()) {
    harmony::DeveloperContent developer;
    for (const std::string& text : instructions_)
      developer.instructions += (developer.instructions.empty() ? "" : "\n\n") + text;
    developer.tools = tools_;
    conversation.push_back(Message::developer(std::move(developer)));
  }
  // Reasoning is shown to the model again only while the chain of tool calls it led to is
  // pending: once a final answer follows it, it is left out (harmony's guidance, and the Hub's
  // chat template). The renderer's auto_drop_analysis alone would keep a finished turn's
  // reasoning while a later turn's tool call is pending, as it drops only when the conversation
  // ends with a final answer.
  size_t last_final = 0;
  for (size_t i = 0; i < turns_.size(); ++i)
    if (turns_[i].channel == "final") last_final = i;
  for (size_t i = 0; i < turns_.size(); ++i)
    if (!(i < last_final && turns_[i].channel == "analysis")) conversation.push_back(turns_[i]);
  return conversation;
}

}  // namespace gptoss::server
