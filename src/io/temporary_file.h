// A file written under a temporary name next to its destination and renamed into place only
// once complete. Every way out that is not commit() (an exception, a full disk, a destination
// that is a directory) removes the temporary file, so no "<name>.partial" is ever left behind.
#pragma once

#include <filesystem>
#include <string_view>

namespace gptoss {

class TemporaryFile {
 public:
  // Names the temporary file "<destination><suffix>"; creates nothing yet.
  explicit TemporaryFile(std::filesystem::path destination, std::string_view suffix = ".partial");
  ~TemporaryFile();  // removes the temporary file unless committed
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  const std::filesystem::path& path() const { return temporary_; }
  const std::filesystem::path& destination() const { return destination_; }
  // Renames the (closed, complete) temporary file to the destination; throws gptoss::Error
  // naming the destination if it cannot, after removing the temporary file.
  void commit();

 private:
  std::filesystem::path destination_, temporary_;
  bool committed_ = false;
};

// Writes `bytes` to `path` through a TemporaryFile: checks every write and the close (a full
// disk often shows only there), so `path` appears complete or not at all.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace gptoss
