// Streaming safetensors writer: the header is written first from the declared tensors, then
// each tensor's bytes in declaration order. The file appears under its name only once
// finish() succeeds (written to "<path>.partial", then renamed), so a failed write never
// leaves a truncated file behind.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/temporary_file.h"

namespace gptoss {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t bytes() const;
};

class SafetensorsWriter {
 public:
  SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();  // closes the file; partial_ removes it unless finish() succeeded
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Appends bytes to the current tensor; moves to the next one when it is complete.
  void write(std::span<const uint8_t> bytes);
  void finish();

 private:
  void put(const void* data, size_t size);

  std::filesystem::path path_;
  TemporaryFile partial_;  // removed on every failure, including a failed rename
  std::vector<TensorSpec> tensors_;
  size_t current_ = 0;
  uint64_t written_in_current_ = 0;
  std::FILE* file_ = nullptr;
};

// Writes whole tensors at once: {spec, bytes} pairs.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<TensorSpec, std::span<const uint8_t>>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace gptoss
