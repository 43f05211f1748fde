// tokenizer.apply_chat_template for gpt-oss: Hugging Face-style message dicts → a harmony
// conversation, rendered as harmony renders it.
#pragma once

#include <pybind11/pybind11.h>

#include "gptoss/harmony.h"

namespace gptoss::python {

// messages: [{"role": "system"|"developer"|"user"|"assistant"|"tool", "content": str,
// optional "thinking": str (assistant analysis), "tool_calls": [{"function": {"name", "arguments"}}],
// "name": str (tool)}]; tools: [{"type": "function", "function": {"name", "description",
// "parameters"}}] or the inner dicts.
harmony::Conversation conversation_from_messages(const pybind11::list& messages, const pybind11::object& tools,
                                                 const std::string& reasoning_effort, const pybind11::object& model_identity,
                                                 const pybind11::object& date);

}  // namespace gptoss::python
