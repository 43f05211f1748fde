// The Hugging Face Hub's HTTP interface, used as huggingface_hub uses it: a revision's commit and
// file list (GET <endpoint>/api/models/<repo>/revision/<revision>, as snapshot_download asks),
// and single files into the cache (hf_hub_download: HEAD then GET of
// <endpoint>/<repo>/resolve/<commit>/<file>).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/hf_cache.h"

namespace gptoss {

struct RepoRevision {
  std::string commit;              // "sha"
  std::vector<std::string> files;  // "siblings"[].rfilename, paths in the repo
};

// The Hub's answer to a revision request; throws gptoss::Error naming `url` when it is not one.
RepoRevision parse_repo_revision(const std::string& url, std::string_view body);

class HubClient {
 public:
  using Progress = std::function<void(const std::string& file, uint64_t done, uint64_t total)>;
  // `endpoint` without a trailing '/'; an empty `token` sends no Authorization.
  HubClient(std::string endpoint, std::string token, Progress progress);

  RepoRevision revision(const std::string& repo_id, const std::string& revision) const;

  // Puts `file` of the repo at `commit` into the cache: its blob, downloaded unless present
  // (resuming blobs/<etag>.incomplete), then the snapshot's link to it.
  void download(const HubCacheRepo& cache, const std::string& commit, const std::string& file) const;

 private:
  struct FileMetadata;
  FileMetadata metadata(const std::string& url) const;
  void fetch_blob(const FileMetadata& file, const std::filesystem::path& incomplete) const;
  // The Authorization header for `url`: sent to the endpoint's server only (huggingface_hub drops
  // it for a CDN holding LFS files; the CDN's URLs are signed).
  std::vector<std::string> headers_for(const std::string& url) const;

  std::string endpoint_, token_;
  Progress progress_;
};

}  // namespace gptoss
