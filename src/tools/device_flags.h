// What every command that runs the model shares: where it runs (--device, -t/--threads) and
// how its KV cache is kept (--kv-dtype, --kv-memory).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "gptoss/model.h"
#include "gptoss/session.h"

namespace gptoss::tools {

struct DeviceFlags {
  std::string device = "auto";
  int threads = 0;
  std::string precision = "auto";
  std::string kv_dtype = "bf16";
  std::string kv_memory;  // e.g. "8GiB", "512M", "50%" (of free memory); empty: as needed
};

// --device, -t/--threads and --precision.
void add_device_flags(CLI::App* cmd, DeviceFlags& flags);
// --kv-dtype and --kv-memory, for commands that keep a KV cache.
void add_kv_flags(CLI::App* cmd, DeviceFlags& flags);

LoadOptions load_options(const DeviceFlags& flags);
// The KV options the flags ask for; a percentage is of the memory `model`'s device has free.
KvOptions kv_options(const DeviceFlags& flags, const Model& model);

// "8GiB", "8G", "512MiB", "1.5T", "4096" (bytes) → bytes; "50%" → that share of `available`.
int64_t parse_memory_size(const std::string& text, int64_t available);

}  // namespace gptoss::tools
