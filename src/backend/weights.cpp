#include "backend/weights.h"

namespace gptoss {

Vector VectorStore::add(std::vector<float> values) {
  storage_.push_back(std::make_unique<std::vector<float>>(std::move(values)));
  const auto& v = *storage_.back();
  return Vector{v.data(), static_cast<int64_t>(v.size())};
}

}  // namespace gptoss
