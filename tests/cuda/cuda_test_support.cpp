#include "cuda/cuda_test_support.h"

#include <limits>

#include "support/test_support.h"

namespace gptoss::testing {

bool cuda_device_present() { return test::device_available("cuda"); }

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  return test::relative_l2(a.data(), b.data(), a.size());
}

}  // namespace gptoss::testing
