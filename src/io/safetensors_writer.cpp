#include "io/safetensors_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "gptoss/error.h"

namespace gptoss {

uint64_t TensorSpec::bytes() const {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

SafetensorsWriter::SafetensorsWriter(std::filesystem::path path, std::vector<TensorSpec> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), partial_(path_), tensors_(std::move(tensors)) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data area 8-byte aligned
  file_ = std::fopen(partial_.path().c_str(), "wb");
  if (file_ == nullptr) throw Error(partial_.path().string() + ": cannot create: " + std::strerror(errno));
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  put(length, 8);
  put(text.data(), text.size());
  while (current_ < tensors_.size() && tensors_[current_].bytes() == 0) ++current_;
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void SafetensorsWriter::put(const void* data, size_t size) {
  if (size > 0 && std::fwrite(data, 1, size, file_) != size)
    throw Error(partial_.path().string() + ": write failed: " + std::strerror(errno));
}

void SafetensorsWriter::write(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (current_ >= tensors_.size()) throw Error(path_.string() + ": more data written than the tensors declare");
    const uint64_t room = tensors_[current_].bytes() - written_in_current_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(room, bytes.size()));
    put(bytes.data(), n);
    bytes = bytes.subspan(n);
    written_in_current_ += n;
    if (written_in_current_ == tensors_[current_].bytes()) {
      written_in_current_ = 0;
      do ++current_;
      while (current_ < tensors_.size() && tensors_[current_].bytes() == 0);
    }
  }
}

void SafetensorsWriter::finish() {
  if (current_ != tensors_.size())
    throw Error(path_.string() + ": tensor '" + tensors_[current_].name + "' was not fully written");
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) throw Error(partial_.path().string() + ": write failed: " + std::strerror(errno));
  partial_.commit();
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<TensorSpec, std::span<const uint8_t>>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (const auto& [spec, bytes] : tensors) {
    if (bytes.size() != spec.bytes())
      throw Error(path.string() + ": tensor '" + spec.name + "' has " + std::to_string(bytes.size()) +
                  " bytes for shape needing " + std::to_string(spec.bytes()));
    specs.push_back(spec);
  }
  SafetensorsWriter writer(path, specs, metadata);
  for (const auto& [spec, bytes] : tensors) writer.write(bytes);
  writer.finish();
}

}  // namespace gptoss
