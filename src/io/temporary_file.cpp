#include "io/temporary_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

namespace fs = std::filesystem;

TemporaryFile::TemporaryFile(fs::path destination, std::string_view suffix)
    : destination_(std::move(destination)), temporary_(destination_.string() + std::string(suffix)) {}

TemporaryFile::~TemporaryFile() {
  if (committed_) return;
  std::error_code ec;
  fs::remove(temporary_, ec);  // nothing to do if it was never created
}

void TemporaryFile::commit() {
  std::error_code ec;
  fs::rename(temporary_, destination_, ec);
  if (ec) {
    fs::remove(temporary_, ec);
    throw Error(destination_.string() + ": cannot move the finished file into place: " + ec.message());
  }
  committed_ = true;
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  TemporaryFile temporary(path);
  const int fd = ::open(temporary.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot create: " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      throw Error(path.string() + ": write failed: " + std::strerror(error));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw Error(path.string() + ": write failed: " + std::strerror(errno));
  temporary.commit();
}

}  // namespace gptoss
