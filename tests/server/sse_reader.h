// Reads a server-sent event stream back as a client does (WHATWG HTML §9.2.6, simplified to the
// `event` and `data` fields): the events in order, each with its name and its data lines joined.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace gptoss::server::test {

struct ServerEvent {
  std::string name;  // empty: no event field
  std::string data;
  nlohmann::json json() const { return nlohmann::json::parse(data); }
};

inline std::vector<ServerEvent> read_events(const std::string& stream) {
  std::vector<ServerEvent> events;
  ServerEvent event;
  bool has_data = false;
  std::istringstream in(stream);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (has_data) events.push_back(event);
      event = {};
      has_data = false;
    } else if (line.starts_with("data: ")) {
      if (has_data) event.data += '\n';
      event.data += line.substr(6);
      has_data = true;
    } else if (line.starts_with("event: ")) {
      event.name = line.substr(7);
    } else {
      ADD_FAILURE() << "not an SSE field: " << line;
    }
  }
  EXPECT_FALSE(has_data) << "the stream ends inside an event";
  EXPECT_TRUE(stream.empty() || stream.ends_with("\n\n"));
  return events;
}

}  // namespace gptoss::server::test
