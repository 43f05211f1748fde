#include "tools/resource_flags.h"

#include "util/thread_pool.h"

namespace gptoss::tools {

CLI::Option* add_threads_flag(CLI::App* cmd, int& threads, const std::string& what) {
  return cmd->add_option("-t,--threads", threads, what + ": 1 to " + std::to_string(ThreadPool::kMaxThreads) + "; 0 = all cores (default)")
      ->check(CLI::Range(0, ThreadPool::kMaxThreads));
}

CLI::Option* add_positive_flag(CLI::App* cmd, const std::string& names, int& value, const std::string& description) {
  return cmd->add_option(names, value, description)->check(CLI::Range(1, std::numeric_limits<int>::max()));
}

}  // namespace gptoss::tools
