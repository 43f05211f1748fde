// The function tools a request declares and its tool_choice. Chat nests each function under
// "function" ({type: function, function: {name, description, parameters}}); Responses writes it
// flat ({type: function, name, description, parameters}).
#pragma once

#include <vector>

#include "gptoss/harmony.h"
#include "server/api_request.h"
#include "server/json_fields.h"

namespace gptoss::server {

// `tools`: at most 128 functions of distinct names, each with an optional description and
// optional parameters (a JSON Schema object). Other tool types (web_search, …) are refused,
// naming tools[i].type.
std::vector<harmony::FunctionTool> read_function_tools(const Field& tools, Endpoint endpoint);

// `tool_choice`: "auto" (when absent), "none", "required", or one function by name (chat:
// {type: function, function: {name}}; Responses: {type: function, name}), which must be one of
// `tools`. "required" and a named function need tools; "none" leaves them declared.
ToolChoice read_tool_choice(const Field& choice, Endpoint endpoint, const std::vector<harmony::FunctionTool>& tools);

}  // namespace gptoss::server
