#include "backend/cuda/row_tiles.cuh"

#include <algorithm>

namespace gptoss::cuda {

namespace {

struct TableView {
  const uint8_t* rows;  // row 0 of matrix 0, or null: no such table
  int64_t row_stride, matrix_stride, row_bytes;
};

void views_of(const Matrix& m, TableView (&views)[3]) {
  views[0] = {m.weight, m.weight_row_stride, m.weight_matrix_stride, packed_row_bytes(m.format, m.cols, m.bits)};
  views[1] = {m.scales, m.scale_row_stride, m.scale_matrix_stride, scale_row_bytes(m)};
  views[2] = {m.biases, m.scale_row_stride, m.scale_matrix_stride, scale_row_bytes(m)};
}

bool aligned16(int64_t v) { return v % 16 == 0; }

}  // namespace

RowTiles plan_row_tiles(const Matrix& w, const Matrix* up, int64_t rows_per_block, int64_t budget_bytes,
                        int target_stages) {
  RowTiles tiles;
  TableView views[2][3];
  views_of(w, views[0]);
  if (up != nullptr) views_of(*up, views[1]);
  const int matrices = up != nullptr ? 2 : 1;
  // Copied tables, and which bytes of each are some matrix's rows (a copy must not run past them).
  int64_t covered[kMaxTileTables] = {};
  for (int m = 0; m < matrices; ++m)
    for (int k = 0; k < 3; ++k) {
      const TableView& v = views[m][k];
      tiles.table_of[m][k] = -1;
      tiles.delta_of[m][k] = 0;
      if (v.rows == nullptr) continue;
      if (m == 1) {  // up's rows in the gaps of gate's?
        const TableView& g = views[0][k];
        const int64_t delta = reinterpret_cast<intptr_t>(v.rows) - reinterpret_cast<intptr_t>(g.rows);
        const int j = tiles.table_of[0][k];
        if (j >= 0 && v.row_stride == g.row_stride && v.matrix_stride == g.matrix_stride && delta >= g.row_bytes &&
            delta + v.row_bytes <= g.row_stride) {
          tiles.table_of[1][k] = static_cast<int8_t>(j);
          tiles.delta_of[1][k] = static_cast<int32_t>(delta);
          covered[j] = delta + v.row_bytes;
          continue;
        }
      }
      const int j = tiles.tables++;
      tiles.table[j] = {v.rows, v.row_stride, v.matrix_stride, 0};
      tiles.table_of[m][k] = static_cast<int8_t>(j);
      covered[j] = v.row_bytes;
    }
  // Each copied table: 16-byte aligned stacks, rows that fill their stride (a tile's copy ends at
  // its last row's end), and the smallest row count g whose bytes are whole 16-byte units.
  int g = 1;
  int64_t row_bytes = 0;  // of all tables, per tile row
  const int64_t count = w.count;
  for (int j = 0; j < tiles.tables; ++j) {
    const RowTiles::Table& t = tiles.table[j];
    if (!aligned16(reinterpret_cast<intptr_t>(t.source)) || (count > 1 && !aligned16(t.matrix_stride)) ||
        covered[j] != t.row_stride || t.row_stride <= 0)
      return {};
    while (g <= 16 && !aligned16(g * t.row_stride)) g *= 2;
    row_bytes += t.row_stride;
  }
  if (g > 16 || w.rows % g != 0 || row_bytes == 0) return {};
  // Tiles of about budget / target_stages bytes (whole multiples of g), so that many are in
  // flight and a warp takes its next rows from whichever has landed; within that, the block's
  // rows split into equal tiles (a short last tile would leave its warps idle for one round).
  const int64_t fitting = budget_bytes / (2 * row_bytes) / g * g;  // two at least
  const int64_t target = std::max<int64_t>(g, budget_bytes / std::max(target_stages, 2) / row_bytes / g * g);
  const int64_t per_block = std::max<int64_t>(rows_per_block, 1);
  const int64_t tiles_per_block = (per_block + target - 1) / target;
  const int64_t even = ((per_block + tiles_per_block - 1) / tiles_per_block + g - 1) / g * g;
  const int rows = static_cast<int>(std::min(even, fitting));
  if (rows < g) return {};
  tiles.tile_rows = rows;
  tiles.stage_bytes = 0;
  for (int j = 0; j < tiles.tables; ++j) {
    tiles.table[j].offset = tiles.stage_bytes;
    tiles.stage_bytes += static_cast<int>(rows * tiles.table[j].row_stride);
  }
  tiles.stages = static_cast<int>(std::min<int64_t>(kMaxTileStages, budget_bytes / tiles.stage_bytes));
  return tiles;
}

}  // namespace gptoss::cuda
