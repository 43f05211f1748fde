#include "server/sse.h"

namespace gptoss::server::sse {

namespace {
// One `data:` line per line of the payload: a bare newline inside a field would end the event.
void append_data(std::string& out, std::string_view payload) {
  size_t begin = 0;
  while (true) {
    const size_t end = payload.find('\n', begin);
    out += "data: ";
    out += payload.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    out += '\n';
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  out += '\n';
}
}  // namespace

std::string data(std::string_view payload) {
  std::string out;
  append_data(out, payload);
  return out;
}

std::string event(std::string_view name, std::string_view payload) {
  std::string out = "event: ";
  out += name;
  out += '\n';
  append_data(out, payload);
  return out;
}

std::string done() { return "data: [DONE]\n\n"; }

}  // namespace gptoss::server::sse
