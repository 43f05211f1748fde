// TemporaryFile and write_file_atomically: a file appears complete or not at all, and no
// temporary is left behind, even when the disk fills up (simulated with RLIMIT_FSIZE, which
// works as root in a container where mounting a tiny tmpfs may not).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "gptoss/error.h"
#include "io/temporary_file.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

TEST(TemporaryFile, WritesTheWholeFileUnderItsName) {
  test::TempDir dir;
  write_file_atomically(dir / "config.json", "{\"a\": 1}\n");
  EXPECT_EQ(test::read_file(dir / "config.json"), "{\"a\": 1}\n");
  EXPECT_FALSE(fs::exists(dir / "config.json.partial"));
}

TEST(TemporaryFile, IsRemovedWhenNotCommitted) {
  test::TempDir dir;
  {
    TemporaryFile file(dir / "x");
    test::write_file(file.path(), "half");
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(TemporaryFile, AFailedRenameOntoADirectoryLeavesNothing) {
  test::TempDir dir;
  fs::create_directory(dir / "taken");
  EXPECT_THROW(write_file_atomically(dir / "taken", "data"), Error);
  EXPECT_FALSE(fs::exists(dir / "taken.partial"));
  EXPECT_TRUE(fs::is_directory(dir / "taken"));
}

// In a child limited to 64-byte files: as on a full disk, the write fails (EFBIG, with SIGXFSZ
// ignored). The child exits 0 only if the error was reported and nothing was left.
TEST(TemporaryFile, AFullDiskIsAnErrorAndLeavesNothing) {
  test::TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    bool threw = false;
    try {
      write_file_atomically(dir / "config.json", std::string(5000, 'x'));  // fits a stream's buffer
    } catch (const Error& e) {
      threw = std::string(e.what()).find("config.json") != std::string::npos;
    }
    const bool clean = !fs::exists(dir / "config.json") && !fs::exists(dir / "config.json.partial");
    ::_exit(threw ? (clean ? 0 : 2) : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: a file was left behind, 10: setrlimit failed";
}

}  // namespace
}  // namespace gptoss
