// A one-line progress bar on stderr (only when stderr is a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gptoss::tools {

class ProgressBar {
 public:
  // `unit` names what is counted ("B" for bytes: shown in MB/GB; otherwise plain counts).
  explicit ProgressBar(std::string label, std::string unit = "B");
  void update(uint64_t done, uint64_t total);  // redraws at most ten times a second
  void finish();                               // clears the line

 private:
  std::string label_, unit_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace gptoss::tools
