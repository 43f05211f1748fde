// The harmony conversation that chat messages and Responses input items describe
// (gpt-oss-model.md §4): the system message (reasoning effort, date), one developer message
// (instructions, function tools), then the turns in order. Earlier reasoning stays in the
// conversation; the renderer's auto_drop_analysis decides what the model sees again.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gptoss/harmony.h"
#include "server/api_request.h"

namespace gptoss::server {

class ConversationBuilder {
 public:
  // Text for the developer message's "# Instructions", joined with blank lines in the order
  // added (OpenAI's mapping for gpt-oss: system and developer messages become developer
  // instructions). Empty text adds nothing.
  void add_instructions(const std::string& text);
  void set_tools(std::vector<harmony::FunctionTool> tools) { tools_ = std::move(tools); }

  // The turns of a stored response, without its system and developer messages: this request's
  // reasoning effort, instructions and tools replace them, as the Responses API carries none of
  // them over from previous_response_id.
  void continue_from(const StoredResponse& previous);

  void add_user(std::string text);
  void add_reasoning(std::string text);  // an analysis message; empty text adds nothing
  // An assistant text message: the final answer, unless a tool call follows in the same turn
  // (then add_tool_call moves it to commentary, where harmony puts preambles to calls).
  void add_assistant(std::string text);
  // The assistant calling function `name` with JSON `arguments`, remembered under `id` for the
  // result that answers it (a later call with the same id takes it over).
  void add_tool_call(const std::string& id, const std::string& name, std::string arguments);
  // What call `id` returned; false (and nothing added) when no earlier call has that id.
  bool add_tool_result(const std::string& id, std::string output);

  bool has_turns() const { return !turns_.empty(); }
  const std::map<std::string, std::string>& tool_call_names() const { return tool_call_names_; }

  // The system message (`effort`; `current_date`, or today when empty), the developer message
  // (when there are instructions or tools), the turns.
  harmony::Conversation build(harmony::ReasoningEffort effort, const std::string& current_date) const;

 private:
  std::vector<std::string> instructions_;
  std::vector<harmony::FunctionTool> tools_;
  harmony::Conversation turns_;
  std::map<std::string, std::string> tool_call_names_;
};

}  // namespace gptoss::server
