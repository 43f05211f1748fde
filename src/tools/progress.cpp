#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

namespace gptoss::tools {

namespace {

std::string amount(double value, const std::string& unit) {
  char text[32];
  if (unit != "B") std::snprintf(text, sizeof text, "%.0f", value);
  else if (value >= 1e9) std::snprintf(text, sizeof text, "%.2f GB", value / 1e9);
  else std::snprintf(text, sizeof text, "%.1f MB", value / 1e6);
  return text;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), enabled_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '-');
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %s/%s %s/s ETA %.0fs \x1b[K", label_.c_str(), bar.c_str(), 100 * fraction,
               amount(static_cast<double>(done), unit_).c_str(), amount(static_cast<double>(total), unit_).c_str(),
               amount(rate, unit_).c_str(), eta);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (drawn_) std::fprintf(stderr, "\r\x1b[K");
  drawn_ = false;
}

}  // namespace gptoss::tools
