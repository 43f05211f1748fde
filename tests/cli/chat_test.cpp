// `gptoss chat` driven through a pseudo-terminal, as a person would: questions, commands,
// Ctrl-C in the middle of an answer (the REPL stays), Ctrl-D to leave.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>

#include "support/test_support.h"

namespace gptoss {
namespace {

class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& argv) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  void send(const std::string& s) { ASSERT_EQ(write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  // Reads until `needle` appears in the output after `from`, or the timeout passes.
  bool wait_for(const std::string& needle, size_t from, int seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (output_.find(needle, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      const ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n <= 0) return output_.find(needle, from) != std::string::npos;
      output_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }
  int wait_exit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return output_; }

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string output_;
};

TEST(Chat, ConversationCommandsCtrlCAndCtrlD) {
  PtyProcess chat({GPTOSS_CLI, "chat", "-m", test::tiny_model_dir().string(), "--max-tokens", "200000"});
  ASSERT_TRUE(chat.wait_for(">> ", 0)) << chat.output();

  // A long answer (random weights rarely stop), interrupted with Ctrl-C once text streams.
  size_t mark = chat.output().size();
  chat.send("Tell me a very long story.\r");
  ASSERT_TRUE(chat.wait_for("as plain text", mark)) << chat.output();
  chat.send("\x03");
  ASSERT_TRUE(chat.wait_for("(stopped)", mark)) << chat.output();
  ASSERT_TRUE(chat.wait_for(">> ", chat.output().find("(stopped)", mark))) << chat.output();

  mark = chat.output().size();
  chat.send("/effort high\r");
  ASSERT_TRUE(chat.wait_for("(reasoning effort: high)", mark)) << chat.output();
  mark = chat.output().size();
  chat.send("/effort extreme\r");
  ASSERT_TRUE(chat.wait_for("error: --reasoning-effort: 'extreme'", mark)) << chat.output();
  mark = chat.output().size();
  chat.send("/reset\r");
  ASSERT_TRUE(chat.wait_for("(conversation cleared)", mark)) << chat.output();

  // Ctrl-C at the prompt gives a fresh prompt; Ctrl-D leaves.
  mark = chat.output().size();
  chat.send("\x03");
  ASSERT_TRUE(chat.wait_for(">> ", mark)) << chat.output();
  chat.send("\x04");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
}

TEST(Chat, TurnsReuseTheCacheAndKeepTheHistory) {
  // Short answers (a stop token forced after 3 tokens would need a model that speaks harmony;
  // --max-tokens bounds them instead): two turns, the second sees the first.
  PtyProcess chat({GPTOSS_CLI, "chat", "-m", test::tiny_model_dir().string(), "--max-tokens", "3"});
  ASSERT_TRUE(chat.wait_for(">> ", 0)) << chat.output();
  for (const char* question : {"First question?", "Second question?"}) {
    const size_t mark = chat.output().size();
    chat.send(std::string(question) + "\r");
    ASSERT_TRUE(chat.wait_for("\r\n>> ", mark)) << chat.output();
  }
  chat.send("\x04");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
}

}  // namespace
}  // namespace gptoss
