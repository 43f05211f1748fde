#include "io/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>

#include "gptoss/error.h"

namespace gptoss {
namespace {

constexpr size_t kMaxBodyInMemory = 64u << 20;  // an API answer; error bodies are cut shorter
constexpr size_t kMaxErrorBody = 64u << 10;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// What one transfer gathers through libcurl's callbacks.
struct Transfer {
  std::string url;
  HttpResponse response;
  int fd = -1;  // a download's file; -1: the body goes to response.body
  uint64_t offset = 0;
  uint64_t file_size = 0;
  uint64_t max_file_size = kMaxDownloadBytes;
  bool body_started = false;
  const std::function<void(uint64_t)>* on_size = nullptr;
  std::exception_ptr error;  // thrown inside a callback, rethrown once libcurl returns

  bool success() const { return response.status >= 200 && response.status < 300; }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line = trim(std::string_view(data, size * count));
  if (line.starts_with("HTTP/")) {  // a new response (after a redirect): its headers replace the last
    t.response.headers.clear();
    const size_t space = line.find(' ');
    long status = 0;
    if (space != std::string_view::npos) std::from_chars(line.data() + space + 1, line.data() + line.size(), status);
    t.response.status = status;
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(trim(line.substr(0, colon)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    t.response.headers[name] = std::string(trim(line.substr(colon + 1)));
  }
  return size * count;
}

void write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t written = ::write(fd, data, n);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw Error(std::string("cannot write the download: ") + std::strerror(errno));
    data += written;
    n -= static_cast<size_t>(written);
  }
}

// The first byte of a 206 answer must be the one asked for: "Content-Range: bytes START-END/SIZE".
void check_resumed_at(const Transfer& t) {
  const std::string range = t.response.header("content-range");
  uint64_t start = 0;
  const size_t digits = range.find_first_of("0123456789");
  if (digits == std::string::npos ||
      std::from_chars(range.data() + digits, range.data() + range.size(), start).ec != std::errc() ||
      start != t.offset)
    throw Error(t.url + ": asked to resume at byte " + std::to_string(t.offset) + ", the server answered '" +
                range + "'");
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t.fd < 0 || !t.success()) {
    const size_t limit = t.fd < 0 && t.success() ? kMaxBodyInMemory : kMaxErrorBody;
    t.response.body.append(data, std::min(n, limit - std::min(limit, t.response.body.size())));
    return n;
  }
  try {
    if (!t.body_started) {
      t.body_started = true;
      if (t.response.status == 206) {
        check_resumed_at(t);
      } else {  // the whole file: start it afresh
        if (::ftruncate(t.fd, 0) != 0) throw Error(std::string("cannot truncate the download: ") + std::strerror(errno));
        t.file_size = 0;
      }
      if (::lseek(t.fd, static_cast<off_t>(t.file_size), SEEK_SET) < 0)
        throw Error(std::string("cannot seek in the download: ") + std::strerror(errno));
    }
    if (n > t.max_file_size - std::min(t.max_file_size, t.file_size))  // before writing a byte too many
      throw Error(t.url + ": the server sent more than the " + std::to_string(t.max_file_size) + " bytes " +
                  (t.max_file_size == kMaxDownloadBytes ? "a download may hold" : "it announced"));
    write_all(t.fd, data, n);
    t.file_size += n;
    if (*t.on_size) (*t.on_size)(t.file_size);
    return n;
  } catch (...) {
    t.error = std::current_exception();
    return 0;  // libcurl stops with CURLE_WRITE_ERROR
  }
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Runs the transfer; returns libcurl's result and the message that goes with it.
std::pair<CURLcode, std::string> perform(Transfer& t, const HttpRequest& request, bool head) {
  init_curl_once();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw Error(request.url + ": cannot start libcurl");
  std::unique_ptr<curl_slist, HeaderListDeleter> headers;
  for (const auto& h : request.headers) {
    curl_slist* appended = curl_slist_append(headers.get(), h.c_str());
    if (appended == nullptr) throw Error(request.url + ": out of memory");
    (void)headers.release();  // the list now continues in `appended`
    headers.reset(appended);
  }
  char message[CURL_ERROR_SIZE] = "";
  const std::string range = std::to_string(t.offset) + "-";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "gptoss.cpp");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects && !head ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
  if (t.offset > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  // huggingface_hub waits 10 s for a connection and for data (HF_HUB_ETAG_TIMEOUT,
  // HF_HUB_DOWNLOAD_TIMEOUT); a transfer that stalls that long counts as broken off.
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, message);
  const CURLcode code = curl_easy_perform(c);
  if (t.error) std::rethrow_exception(t.error);
  char* location = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr)
    t.response.redirect_url = location;
  return {code, message[0] != '\0' ? message : curl_easy_strerror(code)};
}

HttpResponse fetch(const HttpRequest& request, bool head) {
  Transfer t;
  t.url = request.url;
  const auto [code, message] = perform(t, request, head);
  if (code != CURLE_OK) throw Error(request.url + ": " + message);
  return std::move(t.response);
}

// Failures that break a transfer off midway: asking again from where it stopped may succeed.
bool broke_off(CURLcode code) {
  switch (code) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_CONNECT:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_case_name) const {
  const auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_origin(const std::string& url) {
  init_curl_once();
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), curl_url_cleanup);
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  std::string origin;
  for (const auto& [part, separator] : {std::pair{CURLUPART_SCHEME, "://"}, {CURLUPART_HOST, ":"}, {CURLUPART_PORT, ""}}) {
    char* text = nullptr;
    if (curl_url_get(parsed.get(), part, &text, CURLU_DEFAULT_PORT) != CURLUE_OK) return {};
    origin += text;
    origin += separator;
    curl_free(text);
  }
  for (char& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return origin;
}

HttpResponse http_head(const HttpRequest& request) { return fetch(request, true); }
HttpResponse http_get(const HttpRequest& request) { return fetch(request, false); }

HttpDownload http_download(const HttpRequest& request, int fd, uint64_t offset,
                           const std::function<void(uint64_t)>& on_size, uint64_t max_file_size) {
  Transfer t;
  t.max_file_size = max_file_size;
  t.url = request.url;
  t.fd = fd;
  t.offset = offset;
  t.file_size = offset;
  t.on_size = &on_size;
  const auto [code, message] = perform(t, request, false);
  HttpDownload result;
  if (code != CURLE_OK) {
    if (!broke_off(code)) throw Error(request.url + ": " + message);
    result.interrupted = message;
  }
  result.file_size = t.file_size;
  result.response = std::move(t.response);
  return result;
}

}  // namespace gptoss
