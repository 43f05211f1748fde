// Builds the BatchLayout of one step from the sequences that take part in it.
#pragma once

#include <cstdint>
#include <span>

#include "backend/batch_layout.h"
#include "gptoss/session.h"
#include "runtime/sequence_kv.h"

namespace gptoss {

class BatchBuilder {
 public:
  void clear();
  // Appends `tokens` of a sequence whose cache holds positions [0, start) and has blocks
  // reserved for the new ones. Output rows (logits) follow the order of the calls.
  void add(const SequenceKv& kv, int32_t start, std::span<const int32_t> tokens, LogitsWanted logits);
  const BatchLayout& layout() const { return layout_; }
  int64_t rows() const { return layout_.rows(); }

 private:
  BatchLayout layout_;
};

}  // namespace gptoss
