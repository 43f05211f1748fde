// read_text_file / check_regular_file: FIFOs, devices and oversized files are refused with one
// line naming the file, rather than waited on or read without end.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "gptoss/error.h"
#include "io/text_file.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

void expect_error(const std::function<void()>& action, const std::string& needle) {
  try {
    action();
    ADD_FAILURE() << "no error; expected " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(TextFile, ReadsARegularFile) {
  test::TempDir dir;
  test::write_file(dir / "a.json", "{\"x\": 1}");
  EXPECT_EQ(read_text_file(dir / "a.json", 100, "config"), "{\"x\": 1}");
  EXPECT_EQ(check_regular_file(dir / "a.json", 100, "config"), 8u);
}

TEST(TextFile, AFifoIsRefusedWithoutBlocking) {
  test::TempDir dir;
  const auto fifo = dir / "config.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { read_text_file(fifo, kMaxJsonConfigBytes, "config"); },
               fifo.string() + ": config is not a regular file");
  expect_error([&] { check_regular_file(fifo, kMaxJsonConfigBytes, "config"); }, "not a regular file");
}

TEST(TextFile, DevZeroIsRefused) {
  expect_error([] { read_text_file("/dev/zero", kMaxTextFileBytes, "data file"); },
               "/dev/zero: data file is not a regular file");
}

TEST(TextFile, AFileOverTheCapIsRefused) {
  test::TempDir dir;
  test::write_file(dir / "big.json", std::string(2048, ' '));
  expect_error([&] { read_text_file(dir / "big.json", 1024, "config"); },
               "big.json: config is 2048 bytes, over the limit of 1024 bytes");
  expect_error([&] { read_text_file(dir / "nowhere.json", 1024, "config"); }, "nowhere.json: cannot open config");
}

}  // namespace
}  // namespace gptoss
