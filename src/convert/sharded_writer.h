// Writes a model directory's weights the way mlx-lm and transformers shard them: groups of
// tensors packed greedily into files of at most `max_shard_bytes` (a group never straddles two
// files), named model-0000i-of-0000N.safetensors (model.safetensors when there is one), plus
// model.safetensors.index.json. Data is streamed: each group writes its tensors' bytes in
// order, so memory stays at one group's working set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors_writer.h"

namespace gptoss {

struct TensorGroup {
  std::vector<TensorSpec> tensors;
  // Writes exactly the bytes of `tensors`, in order.
  std::function<void(SafetensorsWriter&)> write;
  uint64_t bytes() const;
};

struct ShardedWriteOptions {
  uint64_t max_shard_bytes = 5ull << 30;  // mlx-lm's MAX_FILE_SIZE_GB = 5
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ of every shard
  uint64_t total_parameters = 0;               // recorded in the index when non-zero
  std::function<void(uint64_t written, uint64_t total)> progress;  // after each group
};

void write_sharded_checkpoint(const std::filesystem::path& dir, const std::vector<TensorGroup>& groups,
                              const ShardedWriteOptions& options);

// A new directory for the output that appears at `final_dir` only once commit() is called;
// otherwise everything written is removed. Refuses a `final_dir` that already exists.
class StagingDirectory {
 public:
  explicit StagingDirectory(std::filesystem::path final_dir);
  ~StagingDirectory();
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;

  const std::filesystem::path& path() const { return staging_; }
  void commit();

 private:
  std::filesystem::path final_, staging_;
  bool committed_ = false;
};

}  // namespace gptoss
