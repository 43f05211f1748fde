// Random ids for what the server hands out ("chatcmpl-…", "resp_…", "call_…"): unguessable, so
// that one client cannot name another's stored response by counting.
#pragma once

#include <string>
#include <string_view>

namespace gptoss::server {

// `prefix` followed by `length` random characters from [0-9A-Za-z]. Thread-safe.
std::string random_id(std::string_view prefix, int length = 24);

}  // namespace gptoss::server
