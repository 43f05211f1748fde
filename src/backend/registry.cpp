#include "backend/registry.h"

#include <algorithm>
#include <mutex>

#include "backend/cpu/cpu_backend.h"
#ifdef GPTOSS_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "gptoss/error.h"

namespace gptoss {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<BackendEntry> entries;
};

Registry& registry() {
  static Registry* r = [] {
    auto* made = new Registry;  // never destroyed: backends may be looked up during exit
    made->entries.push_back(cpu_backend_entry());
#ifdef GPTOSS_HAVE_CUDA
    made->entries.push_back(cuda_backend_entry());
#endif
    return made;
  }();
  return *r;
}

std::string known_names(const std::vector<BackendEntry>& entries) {
  std::string names = "auto";
  for (const auto& e : entries) names += ", " + e.name;
  return names;
}

}  // namespace

void register_backend(BackendEntry entry) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::erase_if(r.entries, [&](const BackendEntry& e) { return e.name == entry.name; });
  r.entries.push_back(std::move(entry));
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& e : r.entries) names.push_back(e.name);
  return names;
}

namespace {

BackendEntry find(const std::string& device) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (device == "auto") {
    const BackendEntry* best = nullptr;
    for (const auto& e : r.entries)
      if (e.available() && (best == nullptr || e.priority > best->priority)) best = &e;
    if (best == nullptr) throw Error("device 'auto': no backend is available");
    return *best;
  }
  for (const auto& e : r.entries) {
    if (e.name != device) continue;
    if (!e.available()) throw Error("device '" + device + "' is not available on this machine");
    return e;
  }
  throw Error("device '" + device + "' is unknown (this build has: " + known_names(r.entries) + ")");
}

}  // namespace

std::string resolve_device(const std::string& device) { return find(device).name; }

std::unique_ptr<Backend> make_backend(const std::string& device, const BackendOptions& options) {
  return find(device).make(options);
}

}  // namespace gptoss
