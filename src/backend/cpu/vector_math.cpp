#include "backend/cpu/vector_math.h"

#include "util/multiversion.h"

namespace gptoss {

// Sixteen independent partial sums: lets the compiler vectorise without reassociating.
GPTOSS_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0.f;
  for (; i < n; ++i) tail += a[i] * b[i];
  float sum = 0.f;
  for (int j = 0; j < 16; ++j) sum += acc[j];
  return sum + tail;
}

GPTOSS_MULTIVERSION void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace gptoss
