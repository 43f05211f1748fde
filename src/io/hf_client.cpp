#include "io/hf_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "io/http_client.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

// An attempt that receives nothing counts against this; one that receives data starts the
// count again (huggingface_hub's http_get retries a broken transfer 5 times the same way).
constexpr int kAttemptsWithoutProgress = 3;

// Percent-encodes all but RFC 3986's unreserved characters (and '/' when `keep_slash`), as
// huggingface_hub quotes revisions (no '/' kept) and file paths.
std::string url_escape(const std::string& text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\r' || c == '\n') c = ' ';
  return text;
}

// The meaning of an error answer, as huggingface_hub's hf_raise_for_status reads it: the
// X-Error-Code header first (the Hub answers 401 for a repository that does not exist), then
// the status.
[[noreturn]] void throw_hub_error(const std::string& url, const HttpResponse& r, bool token_sent) {
  const std::string code = r.header("x-error-code");
  std::string what;
  if (code == "RepoNotFound") {
    what = token_sent ? "repository not found (or the token cannot access it)"
                      : "repository not found (or private or gated: set HF_TOKEN)";
  } else if (code == "RevisionNotFound") {
    what = "revision not found";
  } else if (code == "EntryNotFound" || r.status == 404) {
    what = "repository or file not found";
  } else if (code == "GatedRepo" || r.status == 401 || r.status == 403) {
    what = token_sent ? "access denied (gated or private repository? the token cannot access it)"
                      : "access denied (gated or private repository? set HF_TOKEN)";
  } else {
    what = "the server answered";
  }
  std::string detail = "HTTP " + std::to_string(r.status);
  if (const std::string message = r.header("x-error-message"); !message.empty()) detail += ": " + one_line(message);
  throw Error(url + ": " + what + " [" + detail + "]");
}

bool success(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }

struct FileDescriptor {
  int fd;
  ~FileDescriptor() { ::close(fd); }
};

// huggingface_hub's _normalize_etag: ETag: W/"<value>" or "<value>" → <value>.
std::string normalize_etag(std::string etag) {
  if (etag.starts_with("W/")) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

}  // namespace

struct HubClient::FileMetadata {
  std::string file;      // path in the repo
  std::string location;  // where to GET it: the resolve URL, or the CDN a redirect names
  std::string etag;
  uint64_t size = 0;
};

RepoRevision parse_repo_revision(const std::string& url, std::string_view body) {
  RepoRevision result;
  try {
    check_json_depth(body, url);
    const auto doc = nlohmann::json::parse(body);
    result.commit = doc.at("sha").get<std::string>();
    for (const auto& sibling : doc.at("siblings")) result.files.push_back(sibling.at("rfilename").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(url + ": not the Hub's answer: " + text_excerpt(e.what()));
  }
  if (!is_commit_hash(result.commit)) throw Error(url + ": 'sha' is not a commit hash: '" + result.commit + "'");
  return result;
}

HubClient::HubClient(std::string endpoint, std::string token, Progress progress)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), progress_(std::move(progress)) {}

std::vector<std::string> HubClient::headers_for(const std::string& url) const {
  if (token_.empty() || url_origin(url) != url_origin(endpoint_)) return {};
  return {"Authorization: Bearer " + token_};
}

RepoRevision HubClient::revision(const std::string& repo_id, const std::string& revision) const {
  const std::string url = endpoint_ + "/api/models/" + repo_id + "/revision/" + url_escape(revision, false);
  const HttpResponse r = http_get({url, headers_for(url), true});
  if (!success(r)) throw_hub_error(url, r, !headers_for(url).empty());
  return parse_repo_revision(url, r.body);
}

HubClient::FileMetadata HubClient::metadata(const std::string& url) const {
  std::string at = url;
  for (int redirects = 0; redirects < 10; ++redirects) {
    // Identity encoding, so that Content-Length is the file's size (huggingface_hub does too).
    std::vector<std::string> headers = headers_for(at);
    headers.push_back("Accept-Encoding: identity");
    const HttpResponse r = http_head({at, headers, false});
    const bool redirect = r.status >= 300 && r.status < 400 && !r.redirect_url.empty();
    // huggingface_hub follows a redirect within the Hub (a renamed repository); one to another
    // server (the CDN holding an LFS file) says where to download from.
    if (redirect && url_origin(r.redirect_url) == url_origin(at)) {
      at = r.redirect_url;
      continue;
    }
    if (!redirect && !success(r)) throw_hub_error(at, r, !headers_for(at).empty());
    FileMetadata m;
    m.location = redirect ? r.redirect_url : at;
    // An LFS file's ETag is that of its pointer; X-Linked-Etag is the file's sha256.
    const std::string linked_etag = r.header("x-linked-etag");
    m.etag = normalize_etag(linked_etag.empty() ? r.header("etag") : linked_etag);
    if (m.etag.empty() || m.etag.find('/') != std::string::npos || m.etag == "." || m.etag == "..")
      throw Error(at + ": the Hub sent no usable ETag ('" + m.etag + "')");
    const std::string linked_size = r.header("x-linked-size");
    const std::string size = linked_size.empty() ? r.header("content-length") : linked_size;
    if (size.empty() || std::from_chars(size.data(), size.data() + size.size(), m.size).ptr != size.data() + size.size())
      throw Error(at + ": the Hub sent no file size");
    return m;
  }
  throw Error(url + ": too many redirects");
}

void HubClient::download(const HubCacheRepo& cache, const std::string& commit, const std::string& file) const {
  FileMetadata m = metadata(endpoint_ + "/" + cache.repo_id() + "/resolve/" + commit + "/" + url_escape(file, true));
  m.file = file;
  const fs::path blob = cache.blob(m.etag);
  if (!fs::exists(blob)) {
    const FileLock lock(cache.lock_file(m.etag));
    if (!fs::exists(blob)) {  // another process may have finished it meanwhile
      const fs::path incomplete = cache.incomplete_blob(m.etag);
      fetch_blob(m, incomplete);
      std::error_code ec;
      fs::rename(incomplete, blob, ec);
      if (ec) throw Error(blob.string() + ": cannot rename the finished download: " + ec.message());
    }
  }
  cache.link(commit, file, m.etag);
}

void HubClient::fetch_blob(const FileMetadata& m, const fs::path& incomplete) const {
  std::error_code ec;
  fs::create_directories(incomplete.parent_path(), ec);
  const int fd = ::open(incomplete.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(incomplete.string() + ": cannot open: " + std::strerror(errno));
  const FileDescriptor closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(incomplete.string() + ": cannot stat: " + std::strerror(errno));
  uint64_t present = static_cast<uint64_t>(st.st_size);
  if (present > m.size) {  // not this file's beginning after all
    if (::ftruncate(fd, 0) != 0) throw Error(incomplete.string() + ": cannot truncate: " + std::strerror(errno));
    present = 0;
  }
  const auto report = [&](uint64_t done) {
    if (progress_) progress_(m.file, done, m.size);
  };
  report(present);
  const HttpRequest request{m.location, headers_for(m.location), true};
  for (int without_progress = 0; present < m.size;) {
    const HttpDownload d = http_download(request, fd, present, report, m.size);  // never past the HEAD's size
    if (d.response.status != 0 && !success(d.response))
      throw_hub_error(m.location, d.response, !request.headers.empty());
    const bool progressed = d.file_size != present;
    present = d.file_size;
    if (!d.interrupted) break;
    without_progress = progressed ? 0 : without_progress + 1;
    if (without_progress == kAttemptsWithoutProgress)
      throw Error(m.location + ": " + *d.interrupted + " (" + std::to_string(present) + " of " +
                  std::to_string(m.size) + " bytes kept in " + incomplete.string() + "; the next attempt resumes)");
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << without_progress));
  }
  if (present != m.size)
    throw Error(m.location + ": received " + std::to_string(present) + " bytes, expected " + std::to_string(m.size));
  if (::fsync(fd) != 0) throw Error(incomplete.string() + ": cannot sync: " + std::strerror(errno));
}

}  // namespace gptoss
