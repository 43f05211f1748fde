// A BatchLayout's index arrays in device memory, as the CUDA kernels read them. The CUDA
// context copies them once per batch (begin_batch) into buffers that keep their addresses, so
// a captured graph can be replayed for the next batch of the same shape.
#pragma once

#include <cstdint>

#include "backend/batch_layout.h"

namespace gptoss {

struct DeviceBatch {
  int rows = 0;
  int outputs = 0;
  const int32_t* tokens = nullptr;         // [rows]
  const int32_t* positions = nullptr;      // [rows]
  const int32_t* row_sequence = nullptr;   // [rows] the sequence each row belongs to
  const int32_t* table_offset = nullptr;   // [sequences × kMaxKvGroups] Sequence::table_offset
  const int32_t* block_tables = nullptr;   // BatchLayout::block_tables
  const int32_t* output_rows = nullptr;    // [outputs]
  int max_position = 0;                    // the largest position of any row (host-computed)
};

}  // namespace gptoss
