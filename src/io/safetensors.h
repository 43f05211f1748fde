// Safetensors reading: header validation (pure, fuzzed) and memory-mapped files.
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data area. Each tensor
// entry gives dtype, shape and data_offsets [begin, end) relative to the data area. MLX writes
// unpadded headers and tensors in hash order, so data may start at any byte offset: readers
// must use unaligned loads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"

namespace gptoss {

inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorRecord {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets into the data area
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the data area
  std::vector<TensorRecord> tensors;
  std::map<std::string, std::string> metadata;
};

// Validates everything a reader relies on: header length inside the file and under 100 MB,
// a JSON object, known dtype names, non-negative shapes whose element count times the item
// size equals the byte length, offsets inside the data area, no two tensors overlapping, no
// name twice. Throws Error("<origin>: ...") on the first problem.
SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> file, const std::string& origin);

// A tensor inside a mapped file. `data` may be unaligned.
struct TensorView {
  const TensorRecord* record = nullptr;
  const uint8_t* data = nullptr;
  const std::filesystem::path* file = nullptr;

  const std::string& name() const { return record->name; }
  DType dtype() const { return record->dtype; }
  const std::vector<int64_t>& shape() const { return record->shape; }
  uint64_t nbytes() const { return record->end - record->begin; }
  int64_t numel() const;
};

std::string shape_string(std::span<const int64_t> shape);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const SafetensorsHeader& header() const { return header_; }
  size_t size() const { return file_.size(); }
  TensorView view(const TensorRecord& record) const;
  void drop_resident_pages() const { file_.drop_resident_pages(); }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
};

}  // namespace gptoss
