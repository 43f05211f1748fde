#include "chat_template.h"

#include "gptoss/error.h"

namespace py = pybind11;

namespace gptoss::python {

namespace {

// The caller's structures are untrusted: a list where a dict belongs must raise TypeError
// naming the argument, never be reinterpreted (that read garbage and crashed).
py::dict as_dict(const py::handle& value, const std::string& where) {
  if (!py::isinstance<py::dict>(value))
    throw py::type_error(where + " must be a dict, not " + std::string(Py_TYPE(value.ptr())->tp_name));
  return py::reinterpret_borrow<py::dict>(value);
}

// tools and tool_calls are lists (or tuples); anything else would be iterated as something else.
py::sequence as_list(const py::handle& value, const std::string& where) {
  if (!py::isinstance<py::list>(value) && !py::isinstance<py::tuple>(value))
    throw py::type_error(where + " must be a list, not " + std::string(Py_TYPE(value.ptr())->tp_name));
  return py::reinterpret_borrow<py::sequence>(value);
}

std::string json_text(const py::handle& value) {
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  return py::module_::import("json").attr("dumps")(value).cast<std::string>();
}

std::string get_string(const py::dict& d, const char* key, const std::string& fallback = "") {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return py::str(d[key]).cast<std::string>();
}

harmony::ReasoningEffort effort(const std::string& name) {
  if (const auto parsed = harmony::parse_reasoning_effort(name)) return *parsed;
  throw Error("reasoning_effort: '" + name + "' (use low, medium or high)");
}

std::vector<harmony::FunctionTool> function_tools(const py::object& tools) {
  std::vector<harmony::FunctionTool> out;
  if (tools.is_none()) return out;
  size_t index = 0;
  for (const py::handle& item : as_list(tools, "tools")) {
    const std::string where = "tools[" + std::to_string(index++) + "]";
    py::dict tool = as_dict(item, where);
    if (tool.contains("function")) tool = as_dict(tool["function"], where + "['function']");
    harmony::FunctionTool f;
    f.name = get_string(tool, "name");
    if (f.name.empty()) throw Error("tools: a tool without a name");
    f.description = get_string(tool, "description");
    if (tool.contains("parameters") && !tool["parameters"].is_none()) f.parameters = json_text(tool["parameters"]);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

harmony::Conversation conversation_from_messages(const py::list& messages, const py::object& tools,
                                                 const std::string& reasoning_effort, const py::object& model_identity,
                                                 const py::object& date) {
  harmony::SystemContent system;
  system.reasoning_effort = effort(reasoning_effort);
  system.current_date = date.is_none() ? harmony::current_date() : date.cast<std::string>();
  if (!model_identity.is_none()) system.identity = model_identity.cast<std::string>();
  harmony::Conversation conversation = {harmony::Message::system(system)};
  harmony::DeveloperContent developer{"", function_tools(tools)};
  std::string last_call;  // a tool result without a name answers the latest call
  harmony::Conversation rest;
  size_t index = 0;
  for (const py::handle& item : messages) {
    const std::string where = "messages[" + std::to_string(index++) + "]";
    const py::dict m = as_dict(item, where);
    const std::string role = get_string(m, "role");
    const std::string content = get_string(m, "content");
    if (role == "system" || role == "developer") {
      developer.instructions += (developer.instructions.empty() ? "" : "\n\n") + content;
    } else if (role == "user") {
      rest.push_back(harmony::Message::user(content));
    } else if (role == "assistant") {
      if (const std::string thinking = get_string(m, "thinking"); !thinking.empty())
        rest.push_back(harmony::Message::assistant("analysis", thinking));
      if (m.contains("tool_calls") && !m["tool_calls"].is_none()) {
        size_t call_index = 0;
        for (const py::handle& call : as_list(m["tool_calls"], where + "['tool_calls']")) {
          const std::string call_where = where + "['tool_calls'][" + std::to_string(call_index++) + "]";
          py::dict c = as_dict(call, call_where);
          if (c.contains("function")) c = as_dict(c["function"], call_where + "['function']");
          last_call = "functions." + get_string(c, "name");
          rest.push_back(harmony::Message::tool_call(last_call, c.contains("arguments") ? json_text(c["arguments"]) : "{}"));
        }
      } else if (!content.empty()) {
        rest.push_back(harmony::Message::assistant("final", content));
      }
    } else if (role == "tool") {
      const std::string name = get_string(m, "name");
      const std::string tool = name.empty() ? last_call : (name.rfind("functions.", 0) == 0 ? name : "functions." + name);
      if (tool.empty()) throw Error("messages: a tool message without a name and no earlier tool call");
      rest.push_back(harmony::Message::tool_result(tool, content));
    } else {
      throw Error("messages: unknown role '" + role + "' (system, developer, user, assistant, tool)");
    }
  }
  if (!developer.instructions.empty() || !developer.tools.empty()) conversation.push_back(harmony::Message::developer(developer));
  conversation.insert(conversation.end(), rest.begin(), rest.end());
  return conversation;
}

}  // namespace gptoss::python
