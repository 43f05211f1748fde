#include "server/tool_fields.h"

#include <algorithm>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "tokenizer/json_schema_typescript.h"

namespace gptoss::server {
namespace {

bool declares(const std::vector<harmony::FunctionTool>& tools, const std::string& name) {
  return std::any_of(tools.begin(), tools.end(), [&](const auto& tool) { return tool.name == name; });
}

harmony::FunctionTool read_function(const Field& function) {
  harmony::FunctionTool tool;
  tool.name = function["name"].identifier();
  if (const Field description = function["description"]; description.present()) tool.description = description.string();
  if (const Field parameters = function["parameters"]; parameters.present()) {
    tool.parameters = parameters.object().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // The renderer turns the schema into TypeScript; what it cannot read is the client's error.
    try {
      json_schema_to_typescript(tool.parameters, "the schema");
    } catch (const Error& e) {
      throw parameters.invalid(e.what());
    }
  }
  if (const Field strict = function["strict"]; strict.present()) strict.boolean();
  return tool;
}

}  // namespace

std::vector<harmony::FunctionTool> read_function_tools(const Field& tools, Endpoint endpoint) {
  std::vector<harmony::FunctionTool> functions;
  if (!tools.present()) return functions;
  const size_t count = tools.array(128);
  for (size_t i = 0; i < count; ++i) {
    const Field tool = tools[i];
    tool["type"].one_of({"function"});
    const Field function = endpoint == Endpoint::chat_completions ? tool["function"] : tool;
    function.object();
    harmony::FunctionTool declared = read_function(function);
    if (declares(functions, declared.name))
      throw function["name"].invalid("a tool named '" + declared.name + "' is declared twice");
    functions.push_back(std::move(declared));
  }
  return functions;
}

ToolChoice read_tool_choice(const Field& choice, Endpoint endpoint, const std::vector<harmony::FunctionTool>& tools) {
  ToolChoice out;
  if (!choice.present()) return out;
  if (choice.json().is_string()) {
    const std::string mode = choice.one_of({"auto", "none", "required"});
    if (mode == "none") out.kind = ToolChoice::Kind::none;
    if (mode == "required") out.kind = ToolChoice::Kind::required;
  } else {
    choice.object();
    choice["type"].one_of({"function"});
    out.kind = ToolChoice::Kind::named;
    out.name = (endpoint == Endpoint::chat_completions ? choice["function"]["name"] : choice["name"]).string();
    if (!declares(tools, out.name))
      throw choice.invalid("no function named '" + text_excerpt(out.name) + "' is declared in 'tools'");
  }
  if (out.kind == ToolChoice::Kind::required && tools.empty())
    throw choice.invalid("'required' needs at least one function in 'tools'");
  return out;
}

}  // namespace gptoss::server
