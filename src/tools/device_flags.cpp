#include "tools/device_flags.h"

#include <cmath>
#include <cstdlib>

#include "gptoss/error.h"
#include "tools/resource_flags.h"

namespace gptoss::tools {

void add_device_flags(CLI::App* cmd, DeviceFlags& f) {
  cmd->add_option("--device", f.device, "Where to run: cpu, cuda or auto (the best available)")->capture_default_str();
  add_threads_flag(cmd, f.threads);
  cmd->add_option("--precision", f.precision,
                  "Arithmetic of the matrix products: f32 (exact), bf16 (faster; AMX or AVX512-BF16 on a CPU) "
                  "or auto (bf16 where the device has it)")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}))
      ->capture_default_str();
}

void add_kv_flags(CLI::App* cmd, DeviceFlags& f) {
  cmd->add_option("--kv-dtype", f.kv_dtype, "KV cache precision: bf16 or f32 (exact)")->capture_default_str();
  cmd->add_option("--kv-memory", f.kv_memory,
                  "KV cache pool size, e.g. 8GiB or 50% of free memory (default: what the context needs)");
}

LoadOptions load_options(const DeviceFlags& f) {
  return {.device = f.device, .threads = f.threads, .precision = f.precision};
}

KvOptions kv_options(const DeviceFlags& f, const Model& model) {
  KvOptions kv;
  kv.precision = parse_kv_precision(f.kv_dtype);
  if (!f.kv_memory.empty()) kv.memory_bytes = parse_memory_size(f.kv_memory, model.free_memory());
  return kv;
}

int64_t parse_memory_size(const std::string& text, int64_t available) {
  const auto fail = [&] {
    throw Error("--kv-memory: '" + text + "' (give a size such as 8GiB, 512M or 4096, or a share such as 50%)");
  };
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(value) || value <= 0) fail();
  std::string unit(end);
  if (unit == "%") {
    if (value > 100) fail();
    return static_cast<int64_t>(static_cast<double>(available) * value / 100);
  }
  if (unit.size() > 1 && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
  double scale = 1;
  if (unit == "K" || unit == "k") scale = 0x1p10;
  else if (unit == "M" || unit == "m") scale = 0x1p20;
  else if (unit == "G" || unit == "g") scale = 0x1p30;
  else if (unit == "T" || unit == "t") scale = 0x1p40;
  else if (!unit.empty()) fail();
  const double bytes = value * scale;
  if (bytes > 0x1p62 || bytes < 1) fail();
  return static_cast<int64_t>(bytes);
}

}  // namespace gptoss::tools
