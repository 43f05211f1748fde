#include "model/op_profile.h"

namespace gptoss {

void OpProfile::record(const std::string& name, double seconds, double weight_bytes) {
  std::lock_guard lock(mutex_);
  OperationProfile& total = totals_[name];
  total.name = name;
  total.calls += 1;
  total.seconds += seconds;
  total.weight_bytes += weight_bytes;
}

std::vector<OperationProfile> OpProfile::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<OperationProfile> out;
  for (const auto& [name, total] : totals_) out.push_back(total);
  return out;
}

void OpProfile::clear() {
  std::lock_guard lock(mutex_);
  totals_.clear();
}

}  // namespace gptoss
