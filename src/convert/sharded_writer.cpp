#include "convert/sharded_writer.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "gptoss/error.h"
#include "io/temporary_file.h"

namespace gptoss {

namespace fs = std::filesystem;

uint64_t TensorGroup::bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.bytes();
  return n;
}

void write_sharded_checkpoint(const fs::path& dir, const std::vector<TensorGroup>& groups,
                              const ShardedWriteOptions& options) {
  // Greedy packing in group order, as mlx-lm's make_shards does.
  std::vector<std::vector<size_t>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const uint64_t b = groups[g].bytes();
    if (!shards.back().empty() && shard_bytes + b > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(g);
    shard_bytes += b;
    total += b;
  }

  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::map<std::string, std::string> names;
  uint64_t written = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    const std::string file = shards.size() == 1 ? "model.safetensors" : name;
    std::vector<TensorSpec> specs;
    for (size_t g : shards[s])
      for (const auto& t : groups[g].tensors) {
        specs.push_back(t);
        names[t.name] = file;
      }
    SafetensorsWriter writer(dir / file, specs, options.metadata);
    for (size_t g : shards[s]) {
      groups[g].write(writer);
      written += groups[g].bytes();
      if (options.progress) options.progress(written, total);
    }
    writer.finish();
  }
  for (const auto& [tensor, file] : names) weight_map[tensor] = file;  // sorted, as mlx-lm writes it

  nlohmann::ordered_json index;
  index["metadata"]["total_size"] = total;
  if (options.total_parameters > 0) index["metadata"]["total_parameters"] = options.total_parameters;
  index["weight_map"] = weight_map;
  write_file_atomically(dir / "model.safetensors.index.json", index.dump(4) + "\n");
}

StagingDirectory::StagingDirectory(fs::path final_dir) : final_(std::move(final_dir)) {
  if (fs::exists(final_)) throw Error(final_.string() + ": already exists; choose a new output directory");
  const fs::path parent = final_.has_parent_path() ? final_.parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) throw Error(parent.string() + ": no such directory");
  staging_ = parent / (final_.filename().string() + ".partial-" + std::to_string(::getpid()));
  fs::create_directories(staging_);
}

StagingDirectory::~StagingDirectory() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagingDirectory::commit() {
  std::error_code ec;
  fs::rename(staging_, final_, ec);
  if (ec) throw Error(final_.string() + ": cannot move the finished output into place: " + ec.message());
  committed_ = true;
}

}  // namespace gptoss
