#include "io/hf_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gptoss/error.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// refs/<revision>: a branch may hold slashes ("refs/pr/1" is stored as refs/refs/pr/1), but
// must stay inside refs/.
fs::path ref_path(const fs::path& repo_dir, const std::string& revision) {
  const fs::path relative(revision);
  const bool escapes = std::any_of(relative.begin(), relative.end(), [](const fs::path& part) {
    return part == ".." || part == "." || part.empty();
  });
  if (revision.empty() || relative.is_absolute() || escapes || revision.back() == '/')
    throw Error("revision '" + revision + "' is not a valid branch, tag or commit name");
  return repo_dir / "refs" / relative;
}

}  // namespace

bool is_commit_hash(std::string_view revision) {
  return revision.size() == 40 &&
         std::all_of(revision.begin(), revision.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

HubCacheRepo::HubCacheRepo(const fs::path& cache_dir, const std::string& repo_id) : repo_id_(repo_id) {
  // huggingface_hub's repo_folder_name: "models--" + the id with "/" → "--".
  std::string folder = "models--" + repo_id;
  const size_t slash = folder.find('/');
  if (slash != std::string::npos) folder.replace(slash, 1, "--");
  dir_ = cache_dir / folder;
  locks_ = cache_dir / ".locks" / folder;
}

std::optional<std::string> HubCacheRepo::commit(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  const fs::path ref = ref_path(dir_, revision);
  if (!fs::is_regular_file(ref)) return std::nullopt;
  std::string text = read_text(ref);
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  if (!is_commit_hash(text)) return std::nullopt;  // not what huggingface_hub writes
  return text;
}

void HubCacheRepo::set_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit || this->commit(revision) == commit) return;
  const fs::path ref = ref_path(dir_, revision);
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  const fs::path temporary = ref.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << commit;  // no newline, as huggingface_hub writes it
    if (!out.flush()) throw Error(temporary.string() + ": cannot write");
  }
  fs::rename(temporary, ref, ec);
  if (ec) throw Error(ref.string() + ": cannot write: " + ec.message());
}

fs::path HubCacheRepo::snapshot(const std::string& commit) const { return dir_ / "snapshots" / commit; }
fs::path HubCacheRepo::blob(const std::string& etag) const { return dir_ / "blobs" / etag; }
fs::path HubCacheRepo::incomplete_blob(const std::string& etag) const {
  return dir_ / "blobs" / (etag + ".incomplete");
}
fs::path HubCacheRepo::lock_file(const std::string& etag) const { return locks_ / (etag + ".lock"); }

void HubCacheRepo::link(const std::string& commit, const std::string& file, const std::string& etag) const {
  const fs::path link = snapshot(commit) / file;
  // Relative, so the cache can move (huggingface_hub's _create_symlink).
  const fs::path target = blob(etag).lexically_relative(link.parent_path());
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) throw Error(link.string() + ": cannot link to " + target.string() + ": " + ec.message());
}

FileLock::FileLock(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    throw Error(path.string() + ": cannot lock: " + std::strerror(err));
  }
}

FileLock::~FileLock() { ::close(fd_); }  // closing releases the lock

}  // namespace gptoss
