#include "io/checkpoint.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "io/text_file.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

// The index maps tensor name → file name; returns the file names it uses, after checking that
// none escapes the directory.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  const nlohmann::json doc = parse_untrusted_json(
      read_text_file(index_path, kMaxJsonConfigBytes, "safetensors index"), index_path.string());
  const auto map_it = doc.find("weight_map");
  if (!doc.is_object() || map_it == doc.end() || !map_it->is_object())
    throw Error(index_path.string() + ": missing key 'weight_map'");
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, file] : map_it->items()) {
    if (!file.is_string()) throw Error(index_path.string() + ": weight_map['" + text_excerpt(name) + "'] is not a string");
    const std::string f = file.get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
      throw Error(index_path.string() + ": weight_map['" + text_excerpt(name) + "'] names an invalid file '" +
                  text_excerpt(f) + "'");
    weight_map[name] = f;
  }
  return weight_map;
}

std::vector<fs::path> glob_model_files(const fs::path& dir) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("model", 0) == 0 && entry.path().extension() == ".safetensors") paths.push_back(entry.path());
  }
  if (ec) throw Error(dir.string() + ": cannot list directory: " + ec.message());
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

Checkpoint::Checkpoint(const fs::path& dir) : dir_(dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": not a model directory");
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;
  std::vector<fs::path> paths;
  if (fs::exists(index_path)) {
    weight_map = read_index(index_path);
    std::set<std::string> names;
    for (const auto& [tensor, file] : weight_map) names.insert(file);
    for (const auto& file : names) paths.push_back(dir / file);
  } else {
    paths = glob_model_files(dir);
  }
  if (paths.empty()) throw Error(dir.string() + ": no model*.safetensors files");

  for (const auto& path : paths) {
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    const SafetensorsFile& file = *files_.back();
    for (const auto& record : file.header().tensors) {
      const auto [it, inserted] = tensors_.emplace(record.name, file.view(record));
      if (!inserted)
        throw Error(path.string() + ": tensor '" + record.name + "' is also in " + it->second.file->string());
    }
  }
  for (const auto& [tensor, file] : weight_map) {
    const auto it = tensors_.find(tensor);
    if (it == tensors_.end() || it->second.file->filename() != file)
      throw Error(index_path.string() + ": tensor '" + tensor + "' is not in " + file);
  }
}

TensorView Checkpoint::tensor(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(dir_.string() + ": missing tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, view] : tensors_) out.push_back(name);
  return out;
}

}  // namespace gptoss
