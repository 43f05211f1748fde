#include "io/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gptoss/error.h"

namespace gptoss {
namespace {

std::string size_text(uint64_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

uint64_t checked_size(const struct stat& st, const std::filesystem::path& path, uint64_t max_bytes,
                      const std::string& what) {
  if (!S_ISREG(st.st_mode)) throw Error(path.string() + ": " + what + " is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw Error(path.string() + ": " + what + " is " + std::to_string(size) + " bytes, over the limit of " +
                size_text(max_bytes));
  return size;
}

}  // namespace

uint64_t check_regular_file(const std::filesystem::path& path, uint64_t max_bytes, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path.string() + ": cannot open " + what + ": " + std::strerror(errno));
  return checked_size(st, path, max_bytes, what);
}

std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes, const std::string& what) {
  check_regular_file(path, max_bytes, what);
  // O_NONBLOCK: should the path become a FIFO between stat and open, open must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path.string() + ": cannot open " + what + ": " + std::strerror(errno));
  std::string text;
  uint64_t size = 0;
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error(path.string() + ": cannot stat " + what + ": " + std::strerror(errno));
    size = checked_size(st, path, max_bytes, what);
    text.resize(size);
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(path.string() + ": cannot read " + what + ": " + std::strerror(errno));
      if (n == 0) break;  // the file shrank while we read it
      done += static_cast<size_t>(n);
    }
    text.resize(done);
  } catch (const std::bad_alloc&) {
    ::close(fd);
    throw Error(path.string() + ": out of memory reading " + what + " (" + std::to_string(size) + " bytes)");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

}  // namespace gptoss
