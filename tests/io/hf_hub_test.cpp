// resolve_model against a local server speaking the Hugging Face Hub's URL scheme for the tiny
// model: the cache layout, resumed downloads, the Authorization header's reach, and the errors.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "gptoss/error.h"
#include "gptoss/hub.h"
#include "io/checkpoint.h"
#include "io/hf_settings.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kToken[] = "hf_secret";

// A made-up digest of the right shape: the Hub names blobs by git sha1 (40 hex digits) or, for
// LFS files, by sha256 (64); the client only needs distinct names.
std::string fake_digest(const std::string& content, size_t hex_digits) {
  std::string digest;
  for (uint64_t round = 0; digest.size() < hex_digits; ++round) {
    uint64_t h = 1469598103934665603ull ^ round;
    for (const char c : content) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
    digest += text;
  }
  return digest.substr(0, hex_digits);
}

struct RepoFile {
  std::string content;
  bool lfs = false;  // over 10 MB, as the Hub's .gitattributes puts them in LFS
  std::string etag;  // the git sha1, or the LFS file's sha256
};

struct LoggedRequest {
  std::string server;  // "hub" or "cdn"
  std::string method, path, range, authorization;
};

// Serves the tiny model as the Hub would, with the CDN on a second server (another origin):
//   GET  /api/models/<repo>/revision/<rev>   {"sha", "siblings": [{"rfilename"}]}
//   HEAD/GET /<repo>/resolve/<rev>/<file>      small files: 200 with ETag; LFS files: 302 to the
//                                              CDN with X-Linked-Etag and X-Linked-Size
//   GET  /blobs/<sha256> on the CDN            the bytes, with Range support
// Repositories: tiny/gpt-oss (public), tiny/gated (needs kToken), tiny/renamed (redirects to
// tiny/gpt-oss), tiny/broken (lists a file it cannot serve), anything else: 404.
class FakeHub {
 public:
  FakeHub() {
    for (const auto& entry : fs::directory_iterator(test::tiny_model_dir())) {
      RepoFile f;
      f.content = test::read_file(entry.path());
      f.lfs = f.content.size() > 10'000'000;
      f.etag = fake_digest(f.content, f.lfs ? 64 : 40);
      files_[entry.path().filename().string()] = std::move(f);
    }
    hub_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [this](const auto& req, auto& res) { api(req, res); });
    hub_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const auto& req, auto& res) { resolve(req, res); });
    cdn_.Get(R"(/blobs/(\w+))", [this](const auto& req, auto& res) { blob(req, res); });
    hub_port_ = hub_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    hub_thread_ = std::thread([this] { hub_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
  }
  ~FakeHub() {
    hub_.stop();
    cdn_.stop();
    hub_thread_.join();
    cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }
  HubOptions options(const fs::path& cache, std::string token = "") const {
    HubOptions o;
    o.endpoint = endpoint() + "/";  // a trailing '/' is dropped, as huggingface_hub does
    o.cache_dir = cache;
    o.token = std::move(token);
    o.offline = false;
    return o;
  }
  const RepoFile& file(const std::string& name) const { return files_.at(name); }
  const std::map<std::string, RepoFile>& files() const { return files_; }

  // The next `transfers` CDN transfers of `file` break off after `bytes` bytes.
  void cut_transfers(const std::string& name, int transfers, size_t bytes) {
    std::lock_guard lock(mutex_);
    cut_etag_ = files_.at(name).etag;
    cuts_left_ = transfers;
    cut_bytes_ = bytes;
  }
  void ignore_ranges() { ignore_ranges_ = true; }
  // The CDN streams `extra` bytes more than the size the Hub announced for `file`, without a
  // Content-Length, as a broken or hostile server might.
  void overfill(const std::string& name, size_t extra) {
    std::lock_guard lock(mutex_);
    overfill_etag_ = files_.at(name).etag;
    overfill_bytes_ = extra;
  }
  std::vector<LoggedRequest> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::vector<LoggedRequest> log_of(const std::string& server) const {
    std::vector<LoggedRequest> out;
    for (const auto& r : log())
      if (r.server == server) out.push_back(r);
    return out;
  }

 private:
  void record(const std::string& server, const httplib::Request& req) {
    std::lock_guard lock(mutex_);
    log_.push_back({server, req.method, req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
  }

  // false (and the answer set) unless the request may see `repo`.
  bool admit(const std::string& repo, const httplib::Request& req, httplib::Response& res) const {
    const std::string auth = req.get_header_value("Authorization");
    if (repo == "tiny/gated" && auth != std::string("Bearer ") + kToken) {
      res.status = auth.empty() ? 401 : 403;
      res.set_header("X-Error-Code", "GatedRepo");
      res.set_header("X-Error-Message", "Access to model tiny/gated is restricted.");
      return false;
    }
    if (repo != "tiny/gpt-oss" && repo != "tiny/gated" && repo != "tiny/broken") {
      res.status = 404;
      return false;
    }
    return true;
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    record("hub", req);
    const std::string repo = req.matches[1], revision = req.matches[2];
    if (repo == "tiny/renamed") return res.set_redirect("/api/models/tiny/gpt-oss/revision/" + revision, 307);
    if (!admit(repo, req, res)) return;
    if (revision != "main" && revision != kCommit) {
      res.status = 404;
      res.set_header("X-Error-Code", "RevisionNotFound");
      return;
    }
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& [name, f] : files_) siblings.push_back({{"rfilename", name}});
    for (const char* other : {"README.md", "original/config.json", "metal/model.bin"})
      siblings.push_back({{"rfilename", other}});
    if (repo == "tiny/broken") siblings.push_back({{"rfilename", "missing.json"}});
    res.set_content(nlohmann::json{{"id", repo}, {"sha", kCommit}, {"siblings", siblings}}.dump(), "application/json");
  }

  void resolve(const httplib::Request& req, httplib::Response& res) {
    record("hub", req);
    const std::string repo = req.matches[1], revision = req.matches[2], name = req.matches[3];
    if (repo == "tiny/renamed") return res.set_redirect("/tiny/gpt-oss/resolve/" + revision + "/" + name, 307);
    if (!admit(repo, req, res)) return;
    const auto it = files_.find(name);
    if (it == files_.end() || revision != kCommit) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      return;
    }
    const RepoFile& f = it->second;
    res.set_header("X-Repo-Commit", kCommit);
    if (f.lfs) {
      res.status = 302;
      res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/blobs/" + f.etag);
      res.set_header("ETag", "\"" + fake_digest(f.etag, 40) + "\"");  // the pointer's, not the file's
      res.set_header("X-Linked-Etag", "\"" + f.etag + "\"");
      res.set_header("X-Linked-Size", std::to_string(f.content.size()));
    } else {
      res.set_header("ETag", "\"" + f.etag + "\"");
      res.set_content(f.content, "application/octet-stream");
    }
  }

  void blob(const httplib::Request& req, httplib::Response& res) {
    record("cdn", req);
    const std::string etag = req.matches[1];
    const RepoFile* f = nullptr;
    for (const auto& [name, candidate] : files_)
      if (candidate.etag == etag) f = &candidate;
    if (f == nullptr) {
      res.status = 404;
      return;
    }
    std::lock_guard lock(mutex_);
    if (etag == overfill_etag_) {
      const size_t total = f->content.size() + overfill_bytes_;
      res.set_chunked_content_provider("application/octet-stream", [f, total](size_t offset, httplib::DataSink& sink) {
        const std::string chunk = offset < f->content.size()
                                      ? f->content.substr(offset, 1 << 20)
                                      : std::string(std::min<size_t>(1 << 20, total - offset), 'z');
        if (!sink.write(chunk.data(), chunk.size())) return false;  // the client hung up
        if (offset + chunk.size() >= total) sink.done();
        return true;
      });
    } else if (etag == cut_etag_ && cuts_left_ > 0) {
      --cuts_left_;
      const size_t cut = cut_bytes_;
      res.set_content_provider(f->content.size(), "application/octet-stream",
                               [f, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                                 sink.write(f->content.data() + offset, std::min(length, cut));
                                 return false;  // the connection drops
                               });
    } else if (ignore_ranges_) {
      res.status = 200;  // the whole file, whatever Range asked (chunked: httplib cannot slice it)
      res.set_chunked_content_provider("application/octet-stream", [f](size_t offset, httplib::DataSink& sink) {
        sink.write(f->content.data() + offset, std::min<size_t>(1 << 20, f->content.size() - offset));
        if (offset + (1 << 20) >= f->content.size()) sink.done();
        return true;
      });
    } else {
      res.set_content(f->content, "application/octet-stream");  // httplib answers Range with 206
    }
  }

  std::map<std::string, RepoFile> files_;
  httplib::Server hub_, cdn_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::thread hub_thread_, cdn_thread_;
  mutable std::mutex mutex_;
  std::vector<LoggedRequest> log_;
  std::string cut_etag_, overfill_etag_;
  size_t overfill_bytes_ = 0;
  int cuts_left_ = 0;
  size_t cut_bytes_ = 0;
  std::atomic<bool> ignore_ranges_ = false;
};

const std::vector<std::string> kModelFiles = {"config.json",
                                              "generation_config.json",
                                              "model-00001-of-00002.safetensors",
                                              "model-00002-of-00002.safetensors",
                                              "model.safetensors.index.json",
                                              "tokenizer.json",
                                              "tokenizer_config.json"};
constexpr char kShard[] = "model-00001-of-00002.safetensors";

fs::path repo_dir(const fs::path& cache, const std::string& folder = "models--tiny--gpt-oss") { return cache / folder; }

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "not one line: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "'" << needle << "' not in: " << text;
}

TEST(HubDownload, WritesTheCacheLayoutOfHuggingfaceHub) {
  FakeHub hub;
  test::TempDir cache;
  std::map<std::string, uint64_t> progress;
  HubOptions options = hub.options(cache.path(), kToken);
  options.progress = [&](const std::string& file, uint64_t done, uint64_t total) {
    EXPECT_LE(done, total);
    progress[file] = done;
  };
  const fs::path dir = resolve_model("tiny/gpt-oss", options);

  const fs::path repo = repo_dir(cache.path());
  EXPECT_EQ(dir, repo / "snapshots" / kCommit);
  EXPECT_EQ(test::read_file(repo / "refs" / "main"), kCommit);
  std::vector<std::string> listed;
  for (const auto& entry : fs::directory_iterator(dir)) listed.push_back(entry.path().filename().string());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, kModelFiles);  // not README.md, original/ or metal/
  for (const auto& name : kModelFiles) {
    const RepoFile& f = hub.file(name);
    ASSERT_TRUE(fs::is_symlink(dir / name)) << name;
    EXPECT_EQ(fs::read_symlink(dir / name), fs::path("../../blobs") / f.etag) << name;
    EXPECT_TRUE(test::read_file(dir / name) == f.content) << name;
    EXPECT_EQ(progress[name], f.content.size()) << name;
  }
  for (const auto& entry : fs::directory_iterator(repo / "blobs"))
    EXPECT_NE(entry.path().extension(), ".incomplete") << entry.path();
  EXPECT_TRUE(fs::exists(cache.path() / ".locks" / "models--tiny--gpt-oss"));

  // The token goes to the Hub, never to the CDN; LFS files come from the CDN only.
  for (const auto& r : hub.log_of("hub")) EXPECT_EQ(r.authorization, std::string("Bearer ") + kToken) << r.path;
  for (const auto& r : hub.log_of("cdn")) EXPECT_EQ(r.authorization, "") << r.path;
  EXPECT_EQ(hub.log_of("cdn").size(), 3u);  // two shards and tokenizer.json
  for (const auto& r : hub.log())
    EXPECT_EQ(r.path.find("original"), std::string::npos) << r.path;

  EXPECT_EQ(Checkpoint(dir).names().size(), Checkpoint(test::tiny_model_dir()).names().size());
}

TEST(HubDownload, UsesACompleteCachedSnapshotWithoutTheNetwork) {
  FakeHub hub;
  test::TempDir cache;
  const fs::path dir = resolve_model("tiny/gpt-oss", hub.options(cache.path()));
  const size_t requests = hub.log().size();
  EXPECT_EQ(resolve_model("tiny/gpt-oss", hub.options(cache.path())), dir);
  HubOptions offline = hub.options(cache.path());
  offline.offline = true;
  EXPECT_EQ(resolve_model("tiny/gpt-oss", offline), dir);
  offline.revision = kCommit;  // a commit hash needs no ref
  EXPECT_EQ(resolve_model("tiny/gpt-oss", offline), dir);
  EXPECT_EQ(hub.log().size(), requests);

  // A snapshot missing a file is completed; blobs already present are linked, not fetched.
  fs::remove(dir / "tokenizer.json");
  EXPECT_EQ(resolve_model("tiny/gpt-oss", hub.options(cache.path())), dir);
  EXPECT_TRUE(fs::is_symlink(dir / "tokenizer.json"));
  EXPECT_EQ(hub.log_of("cdn").size(), 3u);
}

TEST(HubDownload, FindsASnapshotOthersDownloaded) {
  // As mlx_lm or transformers leave it: refs/main, blobs, snapshot links.
  test::TempDir cache;
  const fs::path repo = repo_dir(cache.path(), "models--someone--tiny");
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "snapshots" / kCommit);
  test::write_file(repo / "refs" / "main", kCommit);
  for (const auto& entry : fs::directory_iterator(test::tiny_model_dir())) {
    const std::string name = entry.path().filename().string();
    fs::copy_file(entry.path(), repo / "blobs" / fake_digest(name, 40));
    fs::create_symlink(fs::path("../../blobs") / fake_digest(name, 40), repo / "snapshots" / kCommit / name);
  }
  HubOptions options;
  options.cache_dir = cache.path();
  options.offline = true;
  EXPECT_EQ(resolve_model("someone/tiny", options), repo / "snapshots" / kCommit);
  options.revision = "v1.0";
  expect_contains(error_of([&] { resolve_model("someone/tiny", options); }), "someone/tiny@v1.0: no complete copy in the Hugging Face cache");
}

TEST(HubDownload, ResumesATransferThatBrokeOff) {
  FakeHub hub;
  test::TempDir cache;
  hub.cut_transfers(kShard, 2, 1 << 20);
  const fs::path dir = resolve_model("tiny/gpt-oss", hub.options(cache.path()));
  EXPECT_TRUE(test::read_file(dir / kShard) == hub.file(kShard).content);
  std::vector<std::string> ranges;
  for (const auto& r : hub.log_of("cdn"))
    if (r.path.ends_with(hub.file(kShard).etag)) ranges.push_back(r.range);
  EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=1048576-", "bytes=2097152-"}));
}

TEST(HubDownload, ResumesAnIncompleteFileOfAnEarlierRun) {
  FakeHub hub;
  test::TempDir cache;
  const RepoFile& shard = hub.file(kShard);
  const fs::path incomplete = repo_dir(cache.path()) / "blobs" / (shard.etag + ".incomplete");
  fs::create_directories(incomplete.parent_path());
  test::write_file(incomplete, shard.content.substr(0, 3000000));
  const fs::path dir = resolve_model("tiny/gpt-oss", hub.options(cache.path()));
  EXPECT_TRUE(test::read_file(dir / kShard) == shard.content);
  EXPECT_FALSE(fs::exists(incomplete));
  bool resumed = false;
  for (const auto& r : hub.log_of("cdn")) resumed |= r.path.ends_with(shard.etag) && r.range == "bytes=3000000-";
  EXPECT_TRUE(resumed);
}

TEST(HubDownload, StartsAgainWhenTheServerIgnoresTheRange) {
  FakeHub hub;
  test::TempDir cache;
  hub.ignore_ranges();
  const RepoFile& shard = hub.file(kShard);
  const fs::path incomplete = repo_dir(cache.path()) / "blobs" / (shard.etag + ".incomplete");
  fs::create_directories(incomplete.parent_path());
  test::write_file(incomplete, std::string(5000, 'x'));
  const fs::path dir = resolve_model("tiny/gpt-oss", hub.options(cache.path()));
  EXPECT_TRUE(test::read_file(dir / kShard) == shard.content);
}

TEST(HubDownload, NeverPresentsAPartialFileAsComplete) {
  FakeHub hub;
  test::TempDir cache;
  hub.cut_transfers(kShard, 1000, 0);  // the transfer drops before any byte, every time
  const std::string error = error_of([&] { resolve_model("tiny/gpt-oss", hub.options(cache.path())); });
  expect_contains(error, "/blobs/" + hub.file(kShard).etag + ": ");
  expect_contains(error, "the next attempt resumes");
  const fs::path snapshot = repo_dir(cache.path()) / "snapshots" / kCommit;
  EXPECT_FALSE(fs::exists(snapshot / kShard));
  EXPECT_FALSE(fs::exists(repo_dir(cache.path()) / "blobs" / hub.file(kShard).etag));
  HubOptions offline = hub.options(cache.path());
  offline.offline = true;
  EXPECT_THROW(resolve_model("tiny/gpt-oss", offline), Error);  // the snapshot is no model yet

  hub.cut_transfers(kShard, 0, 0);
  EXPECT_TRUE(test::read_file(resolve_model("tiny/gpt-oss", hub.options(cache.path())) / kShard) ==
              hub.file(kShard).content);
}

// The HEAD announced the shard's size, the GET streamed 200 MB more: all of it was written.
TEST(HubDownload, StopsAtTheAnnouncedSize) {
  FakeHub hub;
  test::TempDir cache;
  const RepoFile& shard = hub.file(kShard);
  hub.overfill(kShard, 200u << 20);
  const std::string error = error_of([&] { resolve_model("tiny/gpt-oss", hub.options(cache.path())); });
  expect_contains(error, "/blobs/" + shard.etag + ": the server sent more than the " +
                             std::to_string(shard.content.size()) + " bytes it announced");
  bool kept = false;  // the shard's incomplete blob, resumable, never longer than announced
  for (const auto& entry : fs::directory_iterator(repo_dir(cache.path()) / "blobs")) {
    if (entry.path().filename().string().starts_with(shard.etag)) {
      kept = true;
      EXPECT_LE(entry.file_size(), shard.content.size()) << entry.path();
    }
  }
  EXPECT_TRUE(kept);
  EXPECT_FALSE(fs::exists(repo_dir(cache.path()) / "snapshots" / kCommit / kShard));
}

TEST(HubDownload, FollowsTheRedirectsOfARenamedRepository) {
  FakeHub hub;
  test::TempDir cache;
  const fs::path dir = resolve_model("tiny/renamed", hub.options(cache.path()));
  EXPECT_EQ(dir, repo_dir(cache.path(), "models--tiny--renamed") / "snapshots" / kCommit);
  EXPECT_TRUE(test::read_file(dir / "config.json") == hub.file("config.json").content);
}

TEST(HubErrors, NotFoundAndAccessDenied) {
  FakeHub hub;
  test::TempDir cache;
  const std::string api = hub.endpoint() + "/api/models/";
  std::string e = error_of([&] { resolve_model("tiny/nothing", hub.options(cache.path())); });
  expect_contains(e, api + "tiny/nothing/revision/main: repository or file not found [HTTP 404]");

  e = error_of([&] { resolve_model("tiny/gated", hub.options(cache.path())); });
  expect_contains(e, api + "tiny/gated/revision/main: access denied (gated or private repository? set HF_TOKEN)");
  expect_contains(e, "[HTTP 401: Access to model tiny/gated is restricted.]");
  e = error_of([&] { resolve_model("tiny/gated", hub.options(cache.path(), "hf_wrong")); });
  expect_contains(e, "access denied (gated or private repository? the token cannot access it) [HTTP 403");
  EXPECT_EQ(resolve_model("tiny/gated", hub.options(cache.path(), kToken)),
            repo_dir(cache.path(), "models--tiny--gated") / "snapshots" / kCommit);

  HubOptions options = hub.options(cache.path());
  options.revision = "v9";
  e = error_of([&] { resolve_model("tiny/gpt-oss", options); });
  expect_contains(e, api + "tiny/gpt-oss/revision/v9: revision not found [HTTP 404]");

  e = error_of([&] { resolve_model("tiny/broken", hub.options(cache.path())); });
  expect_contains(e, hub.endpoint() + "/tiny/broken/resolve/" + kCommit + "/missing.json: repository or file not found");
}

TEST(HubErrors, NetworkFailureNamesTheUrl) {
  test::TempDir cache;
  HubOptions options;
  options.endpoint = "http://127.0.0.1:1";
  options.cache_dir = cache.path();
  options.offline = false;
  expect_contains(error_of([&] { resolve_model("tiny/gpt-oss", options); }),
                  "http://127.0.0.1:1/api/models/tiny/gpt-oss/revision/main: ");
}

TEST(HubErrors, OfflineWithoutTheModel) {
  test::TempDir cache;
  HubOptions options;
  options.cache_dir = cache.path();
  options.offline = true;
  expect_contains(error_of([&] { resolve_model("openai/gpt-oss-20b", options); }),
                  "openai/gpt-oss-20b@main: no complete copy in the Hugging Face cache " + cache.path().string() +
                      "/models--openai--gpt-oss-20b (HF_HUB_OFFLINE is set");
}

TEST(HubErrors, LocalPathsAndNamesThatAreNeither) {
  test::TempDir dir;
  EXPECT_EQ(resolve_model(dir.path().string()), dir.path());
  test::write_file(dir / "file", "x");
  expect_contains(error_of([&] { resolve_model((dir / "file").string()); }), "file: not a model directory");
  for (const std::string bad : {"no/such/dir", "./missing", "gpt2", "owner/na--me", "owner/.name", "owner/name-",
                                "/abs/path", "owner/na me"})
    expect_contains(error_of([&] { resolve_model(bad); }),
                    bad + ": no such directory, and not a Hugging Face repo id (owner/name)");
}

// Sets environment variables for the scope of one test, restoring them after.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const char* name : {"HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                             "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
                             "TRANSFORMERS_OFFLINE", "HOME"}) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) ::setenv(name, value, 1);
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(HubSettings, FromTheEnvironmentAsHuggingfaceHubReadsIt) {
  test::TempDir home;
  {
    ScopedEnvironment env({{"HOME", home.path().c_str()}});
    const HubSettings s = hub_settings({});
    EXPECT_EQ(s.endpoint, "https://huggingface.co");
    EXPECT_EQ(s.cache_dir, home.path() / ".cache/huggingface/hub");
    EXPECT_EQ(s.token, "");
    EXPECT_FALSE(s.offline);
  }
  {
    fs::create_directories(home / "hf");
    test::write_file(home / "hf" / "token", "hf_from_file\n");
    ScopedEnvironment env({{"HOME", home.path().c_str()},
                           {"HF_HOME", "~/hf"},
                           {"HF_ENDPOINT", "http://mirror.example/"},
                           {"HF_HUB_OFFLINE", "yes"}});
    const HubSettings s = hub_settings({});
    EXPECT_EQ(s.endpoint, "http://mirror.example");
    EXPECT_EQ(s.cache_dir, home.path() / "hf" / "hub");
    EXPECT_EQ(s.token, "hf_from_file");
    EXPECT_TRUE(s.offline);
  }
  {
    ScopedEnvironment env({{"HOME", home.path().c_str()},
                           {"XDG_CACHE_HOME", "/xdg"},
                           {"HUGGINGFACE_HUB_CACHE", "/legacy"},
                           {"HF_TOKEN", " hf_env \n"},
                           {"TRANSFORMERS_OFFLINE", "1"}});
    const HubSettings s = hub_settings({});
    EXPECT_EQ(s.cache_dir, "/legacy");
    EXPECT_EQ(s.token, "hf_env");
    EXPECT_TRUE(s.offline);
    HubOptions explicit_options;
    explicit_options.cache_dir = "/mine";
    explicit_options.token = "";
    explicit_options.offline = false;
    const HubSettings t = hub_settings(explicit_options);
    EXPECT_EQ(t.cache_dir, "/mine");
    EXPECT_EQ(t.token, "");
    EXPECT_FALSE(t.offline);
  }
  {
    ScopedEnvironment env({{"XDG_CACHE_HOME", "/xdg"}, {"HF_HUB_CACHE", "/new"}, {"HF_HUB_OFFLINE", "0"}});
    EXPECT_EQ(hub_settings({}).cache_dir, "/new");
    EXPECT_FALSE(hub_settings({}).offline);
    ::unsetenv("HF_HUB_CACHE");
    EXPECT_EQ(hub_settings({}).cache_dir, "/xdg/huggingface/hub");
  }
}

}  // namespace
}  // namespace gptoss
