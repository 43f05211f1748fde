// The Hugging Face hub cache, laid out as huggingface_hub lays it out (file_download.py; mlx_lm
// and transformers download through it):
//
//   <cache>/models--<owner>--<name>/
//     refs/<revision>            the commit a branch or tag named when last resolved (no newline)
//     blobs/<etag>               a file's bytes, named by its ETag: the git blob sha1, or for an
//                                LFS file its sha256 (the X-Linked-Etag header)
//     blobs/<etag>.incomplete    a download in progress; resumed from its size
//     snapshots/<commit>/<file>  a relative symlink to ../../blobs/<etag>
//   <cache>/.locks/models--<owner>--<name>/<etag>.lock   locked while that blob downloads
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace gptoss {

bool is_commit_hash(std::string_view revision);  // 40 lower-case hex digits

// One model repository's part of the cache.
class HubCacheRepo {
 public:
  HubCacheRepo(const std::filesystem::path& cache_dir, const std::string& repo_id);

  const std::string& repo_id() const { return repo_id_; }
  const std::filesystem::path& dir() const { return dir_; }
  // The commit `revision` names: itself if it is a commit hash, else what refs/<revision> holds.
  std::optional<std::string> commit(const std::string& revision) const;
  // Records that `revision` (a branch or tag) names `commit`; rewrites the ref only if it changed.
  void set_ref(const std::string& revision, const std::string& commit) const;

  std::filesystem::path snapshot(const std::string& commit) const;
  std::filesystem::path blob(const std::string& etag) const;
  std::filesystem::path incomplete_blob(const std::string& etag) const;
  std::filesystem::path lock_file(const std::string& etag) const;
  // Makes snapshots/<commit>/<file> a relative symlink to blobs/<etag>.
  void link(const std::string& commit, const std::string& file, const std::string& etag) const;

 private:
  std::string repo_id_;
  std::filesystem::path locks_, dir_;
};

// An exclusive flock(2) on a file, the lock huggingface_hub's FileLock takes, so that two
// processes (ours or Python's) never download the same blob at once. Waits for it.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace gptoss
