// The Responses API's memory: each stored response's conversation (its prompt and its output as
// harmony messages, with the function names of its tool calls), so that a request naming it as
// previous_response_id continues from it, and its JSON for GET /v1/responses/{id}. Bounded:
// beyond `capacity` responses the least recently used is forgotten (a later reference to it gets
// 404), so memory cannot grow without limit.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "server/api_request.h"

namespace gptoss::server {

class ResponseStore {
 public:
  explicit ResponseStore(size_t capacity);

  void put(const std::string& id, StoredResponse stored, nlohmann::json response);
  std::optional<StoredResponse> stored(const std::string& id);
  std::optional<nlohmann::json> response(const std::string& id);
  bool erase(const std::string& id);
  size_t size() const;

 private:
  struct Entry {
    std::string id;
    StoredResponse stored;
    nlohmann::json response;
  };
  Entry* find(const std::string& id);  // moves it to the front; the mutex held

  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace gptoss::server
