// Typed access to checkpoint tensors: each accessor checks dtype and shape and names the file
// and tensor when they are wrong, and records what it read for `gptoss info`.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "gptoss/model.h"
#include "io/checkpoint.h"
#include "backend/weights.h"

namespace gptoss {

class CheckpointReader {
 public:
  CheckpointReader(const Checkpoint& checkpoint, VectorStore& vectors);
  const Checkpoint& checkpoint() const { return checkpoint_; }

  bool contains(const std::string& name) const { return checkpoint_.contains(name); }
  const TensorView tensor(const std::string& name) const { return checkpoint_.tensor(name); }

  // A float vector of `size` elements (F32, F16 or BF16), converted to float32.
  Vector vector(const std::string& name, int64_t size);
  // `count` stacked vectors of `size` elements each, de-interleaved when step > 1: returns the
  // elements first, first + step, … of each row of a [count, size·step] tensor.
  Vector strided_vector(const std::string& name, int64_t count, int64_t size, int64_t first, int64_t step);
  // A dense [rows, cols] matrix (F32, F16 or BF16), viewed in place.
  Matrix dense_matrix(const std::string& name, int64_t rows, int64_t cols);
  // An MLX-quantized module: `<path>.weight` U32 [count?, rows, cols·bits/32] plus
  // `<path>.scales` [count?, rows, cols/group] and, for mode affine, `<path>.biases` like the
  // scales (float scales; mode mxfp4: U8 E8M0 scales and no biases). Bits, group size and mode
  // are derived from these shapes and dtypes. The count axis is absent when count is 1.
  Matrix quantized_matrix(const std::string& path, int64_t count, int64_t rows, int64_t cols);
  // A dense float module weight `<path>.weight` [count?, rows, cols].
  Matrix dense_stack(const std::string& path, int64_t count, int64_t rows, int64_t cols);

  // An MXFP4 expert stack from `<prefix>_blocks` [count, rows, cols/32, 16] and
  // `<prefix>_scales` [count, rows, cols/32] (U8 or F8_E8M0).
  Matrix mxfp4_stack(const std::string& prefix, int64_t count, int64_t rows, int64_t cols);

  [[noreturn]] void fail(const TensorView& t, const std::string& what) const;
  void expect_shape(const TensorView& t, const std::vector<int64_t>& shape) const;
  void record(TensorDescription description, std::initializer_list<std::string> tensor_names);

  ModelDescription description() const;  // everything recorded, plus the tensors left unread

 private:
  Matrix dense_tensor(const std::string& name, int64_t count, int64_t rows, int64_t cols);

  const Checkpoint& checkpoint_;
  VectorStore& vectors_;
  std::vector<TensorDescription> described_;
  std::set<std::string> used_;
};

}  // namespace gptoss
