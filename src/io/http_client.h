// HTTP over libcurl, as much as the Hugging Face Hub client needs: a HEAD, a small GET into
// memory, and a GET streamed into a file from an offset (a Range request) for resumable
// downloads. Proxies come from the usual environment variables (libcurl reads http_proxy,
// https_proxy, no_proxy).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gptoss {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Redirects are followed for GET only when asked. libcurl sends a custom Authorization header
  // to the first host only, never to the host a redirect leads to.
  bool follow_redirects = false;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response; names in lower case
  std::string redirect_url;                    // a 3xx response's Location, made absolute
  std::string body;                            // a download's: only an error response's body
  // The value of header `lower_case_name`, or "" when absent.
  std::string header(const std::string& lower_case_name) const;
};

// "scheme://host:port" of an absolute URL (lower case, the port explicit), to tell whether two
// URLs lead to the same server; "" when `url` is not an absolute URL.
std::string url_origin(const std::string& url);

// A request that got no response throws gptoss::Error("<url>: <what libcurl says>").
HttpResponse http_head(const HttpRequest& request);
HttpResponse http_get(const HttpRequest& request);

struct HttpDownload {
  HttpResponse response;
  uint64_t file_size = 0;  // bytes in the file afterwards
  // Set when the transfer broke off midway (connection lost, timeout): what libcurl said. The
  // bytes received so far are in the file; ask again from file_size to resume.
  std::optional<std::string> interrupted;
};

// The most a download of unknown size may write: larger than any model file (gpt-oss-120b's
// shards are under 5 GB, whole checkpoints under 100 GB), small enough that a server streaming
// without end cannot fill a disk unnoticed for ever.
inline constexpr uint64_t kMaxDownloadBytes = uint64_t{1} << 40;  // 1 TiB

// GETs request.url into the open file `fd`, which holds `offset` bytes already: asks for the
// rest with "Range: bytes=<offset>-" when offset > 0. A 206 response is appended at `offset`; a
// 200 (the server ignored the range) replaces the file's contents. A response that is not 2xx
// leaves the file as it was. `on_size` is told the file's size as data arrives. The file never
// grows past `max_file_size` (the size the server announced, or kMaxDownloadBytes when none
// was): a server that sends more is an error naming the URL. Throws gptoss::Error when the
// server cannot be reached or the file cannot be written.
HttpDownload http_download(const HttpRequest& request, int fd, uint64_t offset,
                           const std::function<void(uint64_t file_size)>& on_size,
                           uint64_t max_file_size = kMaxDownloadBytes);

}  // namespace gptoss
