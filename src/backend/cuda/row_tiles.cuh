// Tiles of consecutive weight rows copied whole into shared memory (bulk_copy.cuh), for the
// decode products: a block streams its range of rows tile by tile, several tiles in flight.
//
// A tile of rows [t0, t0 + n) of one matrix is, in each of its tables (codes, scales, affine
// offsets), the contiguous bytes [row(t0), row(t0) + n·row_stride) — one copy per table. The
// experts' gate and up (a gated product reads both) add their tables, except where up's rows lie
// in the gaps of gate's (Hugging Face's interleaved gate_up: gate the even rows, up the odd):
// gate's copy holds both.
//
// The copy engine needs 16-byte aligned addresses and sizes, so tiles start at multiples of a
// row count g with g·row_stride ≡ 0 (mod 16) for every table. plan_row_tiles says whether a
// matrix qualifies and how large its tiles are.
#pragma once

#include <cstdint>

#include "backend/cuda/bulk_copy.cuh"
#include "backend/cuda/weight_chunk.cuh"

namespace gptoss::cuda {

inline constexpr int kMaxTileTables = 6;  // codes, scales, offsets of gate and of up

struct RowTiles {
  int tile_rows = 0;  // 0: the matrices do not qualify
  int stages = 0;     // tiles in flight
  int stage_bytes = 0;
  int tables = 0;  // copied tables
  struct Table {
    const uint8_t* source;  // matrix 0's row 0
    int64_t row_stride, matrix_stride;
    int offset;  // in a stage
  } table[kMaxTileTables];
  // Where matrix m's (0: w, 1: up) codes, scales and offsets are: a copied table (−1: none) and
  // the byte offset of its rows within that table's rows.
  int8_t table_of[2][3];
  int32_t delta_of[2][3];
};

inline constexpr int kMaxTileStages = 16;  // tiles in flight a block, at most

// The tile plan for products of w (and, gated, of up) by a block taking rows_per_block rows:
// tiles of about budget_bytes / target_stages, as many in flight as budget_bytes of shared
// memory holds (two at least, kMaxTileStages at most); or tile_rows = 0.
RowTiles plan_row_tiles(const Matrix& w, const Matrix* up, int64_t rows_per_block, int64_t budget_bytes,
                        int target_stages);

// One thread: copies rows [t0, t0 + n) of matrix `matrix` into `stage`, landing on `barrier`.
__device__ __forceinline__ void issue_tile(const RowTiles& tiles, int64_t matrix, int64_t t0, int n, uint8_t* stage,
                                           uint64_t* barrier) {
  uint32_t total = 0;
  for (int j = 0; j < tiles.tables; ++j) total += static_cast<uint32_t>(n * tiles.table[j].row_stride);
  barrier_expect_bytes(barrier, total);
  for (int j = 0; j < tiles.tables; ++j) {
    const RowTiles::Table& t = tiles.table[j];
    bulk_copy(stage + t.offset, t.source + matrix * t.matrix_stride + t0 * t.row_stride,
              static_cast<uint32_t>(n * t.row_stride), barrier);
  }
}

// Row `local` of a landed tile, of matrix m (0: w, 1: up), as row_pointers() would give it.
__device__ __forceinline__ RowPointers tile_row(const RowTiles& tiles, const uint8_t* stage, int m, int local) {
  const uint8_t* p[3];
#pragma unroll
  for (int k = 0; k < 3; ++k) {
    const int j = tiles.table_of[m][k];
    p[k] = j < 0 ? nullptr : stage + tiles.table[j].offset + local * tiles.table[j].row_stride + tiles.delta_of[m][k];
  }
  return {p[0], p[1], p[2]};
}

}  // namespace gptoss::cuda
