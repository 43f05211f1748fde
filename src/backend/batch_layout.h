// Which rows of a batch belong to which sequence, and where each sequence's keys and values live.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace gptoss {

// Layers share a block table when they keep the same positions: gpt-oss has two such groups, the
// full-attention layers and the sliding-window ones.
inline constexpr int kMaxKvGroups = 2;

// Row r of every activation holds token tokens[r] at absolute position positions[r]; a
// sequence's rows are contiguous and its positions consecutive.
struct BatchLayout {
  struct Sequence {
    int32_t start_position = 0;  // position of its first row = tokens already cached
    int64_t first_row = 0;
    int64_t rows = 0;
    // Per group: the block holding positions [i·block_tokens, (i+1)·block_tokens) is
    // block_tables[table_offset[g] + i] for i < table_length[g]; −1 where a windowed group no
    // longer keeps (or never needs) that block. The tables cover every position the rows
    // attend to and every position they store.
    std::array<int64_t, kMaxKvGroups> table_offset{};
    std::array<int32_t, kMaxKvGroups> table_length{};
  };
  std::vector<Sequence> sequences;
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int64_t> output_rows;  // rows whose logits are computed, in output order
  std::vector<int32_t> block_tables;

  int64_t rows() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace gptoss
