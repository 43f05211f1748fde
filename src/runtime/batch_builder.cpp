#include "runtime/batch_builder.h"

namespace gptoss {

void BatchBuilder::clear() {
  layout_.sequences.clear();
  layout_.tokens.clear();
  layout_.positions.clear();
  layout_.output_rows.clear();
  layout_.block_tables.clear();
}

void BatchBuilder::add(const SequenceKv& kv, int32_t start, std::span<const int32_t> tokens, LogitsWanted logits) {
  if (tokens.empty()) return;
  BatchLayout::Sequence seq;
  seq.start_position = start;
  seq.first_row = layout_.rows();
  seq.rows = static_cast<int64_t>(tokens.size());
  for (int g = 0; g < kv.pool().groups(); ++g) {
    const auto& table = kv.table(g);
    seq.table_offset[static_cast<size_t>(g)] = static_cast<int64_t>(layout_.block_tables.size());
    seq.table_length[static_cast<size_t>(g)] = static_cast<int32_t>(table.size());
    layout_.block_tables.insert(layout_.block_tables.end(), table.begin(), table.end());
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    layout_.tokens.push_back(tokens[i]);
    layout_.positions.push_back(start + static_cast<int32_t>(i));
  }
  if (logits == LogitsWanted::all)
    for (int64_t r = 0; r < seq.rows; ++r) layout_.output_rows.push_back(seq.first_row + r);
  else if (logits == LogitsWanted::last)
    layout_.output_rows.push_back(seq.first_row + seq.rows - 1);
  layout_.sequences.push_back(seq);
}

}  // namespace gptoss
