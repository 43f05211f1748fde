// Where a forward pass spends its time: each operation's time on its stream, summed over every call, and the
// weight bytes the operation reads, so that each one's achieved bandwidth can be set against
// the machine's ceiling (`gptoss bench --profile`).
//
// Safe to share: many forward passes record into one profile at once.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gptoss/model.h"

namespace gptoss {

class OpProfile {
 public:
  void record(const std::string& name, double seconds, double weight_bytes);
  std::vector<OperationProfile> snapshot() const;  // by name
  void clear();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, OperationProfile> totals_;
};

}  // namespace gptoss
