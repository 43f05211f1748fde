// The safetensors files of one model directory, seen as a single name → tensor map.
//
// Which files: those named by model.safetensors.index.json ("weight_map"), or, without an
// index, every model*.safetensors in the directory (what mlx-lm loads).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace gptoss {

class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& dir);

  const std::filesystem::path& directory() const { return dir_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error("<dir>: missing tensor '<name>'").
  TensorView tensor(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  void drop_resident_pages() const {
    for (const auto& f : files_) f->drop_resident_pages();
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace gptoss
