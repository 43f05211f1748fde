// Typed memory of a backend: host memory for the CPU, device memory for a GPU.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace gptoss {

enum class ElementType : uint8_t { f32, bf16, f16 };

constexpr int64_t element_bytes(ElementType t) { return t == ElementType::f32 ? 4 : 2; }
const char* element_type_name(ElementType t);  // "f32", "bf16", "f16"

// `elements` values of `dtype`, released by the backend that made it.
class Buffer {
 public:
  Buffer() = default;
  Buffer(void* data, ElementType dtype, int64_t elements, std::function<void(void*)> release)
      : data_(data, std::move(release)), dtype_(dtype), elements_(elements) {}
  void* data() const { return data_.get(); }
  float* f32() const { return static_cast<float*>(data_.get()); }
  ElementType dtype() const { return dtype_; }
  int64_t elements() const { return elements_; }
  int64_t bytes() const { return elements_ * element_bytes(dtype_); }

 private:
  std::unique_ptr<void, std::function<void(void*)>> data_{nullptr, [](void*) {}};
  ElementType dtype_ = ElementType::f32;
  int64_t elements_ = 0;
};

// Where buffers come from: what a KV pool needs of a backend.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Zeroed memory for `elements` values; throws gptoss::Error naming `what` and the size when it
  // cannot be had.
  virtual Buffer allocate(ElementType dtype, int64_t elements, const char* what) = 0;
  // Copies `bytes` between two places of this memory; complete when it returns.
  virtual void copy(const void* from, void* to, int64_t bytes) = 0;
  // Bytes that could still be allocated (device memory, or the host's available memory).
  virtual int64_t available_memory() const = 0;
};

// Host memory (the CPU backend's). Allocations are lazily backed by the system: untouched
// pages cost no physical memory, so a large KV pool costs what its used blocks hold.
class HostMemory : public DeviceMemory {
 public:
  Buffer allocate(ElementType dtype, int64_t elements, const char* what) override;
  void copy(const void* from, void* to, int64_t bytes) override;
  int64_t available_memory() const override;  // MemAvailable of /proc/meminfo
};

}  // namespace gptoss
