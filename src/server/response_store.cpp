#include "server/response_store.h"

namespace gptoss::server {

ResponseStore::ResponseStore(size_t capacity) : capacity_(capacity) {}

void ResponseStore::put(const std::string& id, StoredResponse stored, nlohmann::json response) {
  std::lock_guard lock(mutex_);
  if (capacity_ == 0) return;
  if (auto it = index_.find(id); it != index_.end()) {
    entries_.erase(it->second);
    index_.erase(it);
  }
  entries_.push_front({id, std::move(stored), std::move(response)});
  index_[id] = entries_.begin();
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().id);
    entries_.pop_back();
  }
}

ResponseStore::Entry* ResponseStore::find(const std::string& id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return &entries_.front();
}

std::optional<StoredResponse> ResponseStore::stored(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (const Entry* e = find(id)) return e->stored;
  return std::nullopt;
}

std::optional<nlohmann::json> ResponseStore::response(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (const Entry* e = find(id)) return e->response;
  return std::nullopt;
}

bool ResponseStore::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return false;
  entries_.erase(it->second);
  index_.erase(it);
  return true;
}

size_t ResponseStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace gptoss::server
