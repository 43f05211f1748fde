// The backends this build has, by name: "cpu", and "cuda" when built with CUDA. Tools and the
// Python module name a device ("cpu", "cuda" or "auto"); nothing outside backend/ names a
// backend class.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace gptoss {

struct BackendOptions {
  int threads = 0;  // CPU worker threads; 0 = one per hardware thread
  std::string precision = "auto";  // LoadOptions::precision
};

struct BackendEntry {
  std::string name;
  int priority = 0;                // "auto" takes the available backend of the highest priority
  std::function<bool()> available;  // false when this machine cannot run it (no GPU)
  std::function<std::unique_ptr<Backend>(const BackendOptions&)> make;
};

// Adds a backend (thread-safe). The built-in ones are registered before first use.
void register_backend(BackendEntry entry);
std::vector<std::string> backend_names();

// The backend a device name stands for: itself, or for "auto" the best available one. Throws
// gptoss::Error naming the device when it is unknown or not available here.
std::string resolve_device(const std::string& device);
std::unique_ptr<Backend> make_backend(const std::string& device, const BackendOptions& options);

}  // namespace gptoss
