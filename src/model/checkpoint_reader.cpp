#include "model/checkpoint_reader.h"

#include <cctype>

#include "gptoss/error.h"
#include "quant/affine.h"
#include "quant/float_formats.h"

namespace gptoss {
namespace {

bool is_float(DType d) { return d == DType::F32 || d == DType::F16 || d == DType::BF16; }

float load_float(DType dtype, const uint8_t* p) {
  switch (dtype) {
    case DType::F32: return load_le<float>(p);
    case DType::F16: return f16_to_f32(load_le<uint16_t>(p));
    default: return bf16_to_f32(load_le<uint16_t>(p));
  }
}

WeightFormat dense_format(DType d) {
  return d == DType::F32 ? WeightFormat::f32 : d == DType::F16 ? WeightFormat::f16 : WeightFormat::bf16;
}

std::vector<int64_t> stacked(int64_t count, int64_t rows, int64_t cols) {
  if (count == 1) return {rows, cols};
  return {count, rows, cols};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

CheckpointReader::CheckpointReader(const Checkpoint& checkpoint, VectorStore& vectors)
    : checkpoint_(checkpoint), vectors_(vectors) {}

void CheckpointReader::fail(const TensorView& t, const std::string& what) const {
  throw Error(t.file->string() + ": tensor '" + t.name() + "' " + what);
}

void CheckpointReader::expect_shape(const TensorView& t, const std::vector<int64_t>& shape) const {
  if (t.shape() != shape) fail(t, "has shape " + shape_string(t.shape()) + ", expected " + shape_string(shape));
}

void CheckpointReader::record(TensorDescription description, std::initializer_list<std::string> tensor_names) {
  for (const auto& n : tensor_names) used_.insert(n);
  described_.push_back(std::move(description));
}

Vector CheckpointReader::vector(const std::string& name, int64_t size) {
  return strided_vector(name, 1, size, 0, 1);
}

Vector CheckpointReader::strided_vector(const std::string& name, int64_t count, int64_t size, int64_t first,
                                        int64_t step) {
  const TensorView t = checkpoint_.tensor(name);
  if (!is_float(t.dtype())) fail(t, "has dtype " + std::string(dtype_name(t.dtype())) + ", expected F32, F16 or BF16");
  if (count == 1 && step == 1) expect_shape(t, {size});
  else expect_shape(t, {count, size * step});
  const size_t item = dtype_size(t.dtype());
  std::vector<float> values;
  try {
    values.resize(static_cast<size_t>(count * size));
  } catch (const std::bad_alloc&) {
    fail(t, "does not fit in memory as " + std::to_string(count * size) + " float32 values (" +
                std::to_string(count * size * 4) + " bytes)");
  }
  for (int64_t c = 0; c < count; ++c)
    for (int64_t i = 0; i < size; ++i)
      values[static_cast<size_t>(c * size + i)] =
          load_float(t.dtype(), t.data + (c * size * step + first + i * step) * static_cast<int64_t>(item));
  if (first == 0) {  // record a strided tensor once, under its first view
    const uint64_t n = static_cast<uint64_t>(t.numel());
    record({name, lower(dtype_name(t.dtype())), t.shape(), n, t.nbytes()}, {name});
  }
  return vectors_.add(std::move(values));
}

Matrix CheckpointReader::dense_matrix(const std::string& name, int64_t rows, int64_t cols) {
  return dense_tensor(name, 1, rows, cols);
}

Matrix CheckpointReader::dense_stack(const std::string& path, int64_t count, int64_t rows, int64_t cols) {
  return dense_tensor(path + ".weight", count, rows, cols);
}

Matrix CheckpointReader::dense_tensor(const std::string& name, int64_t count, int64_t rows, int64_t cols) {
  const TensorView t = checkpoint_.tensor(name);
  if (!is_float(t.dtype())) fail(t, "has dtype " + std::string(dtype_name(t.dtype())) + ", expected F32, F16 or BF16");
  expect_shape(t, stacked(count, rows, cols));
  Matrix m;
  m.format = dense_format(t.dtype());
  m.count = count;
  m.rows = rows;
  m.cols = cols;
  m.weight = t.data;
  m.weight_row_stride = cols * static_cast<int64_t>(dtype_size(t.dtype()));
  m.weight_matrix_stride = rows * m.weight_row_stride;
  record({name, lower(dtype_name(t.dtype())), t.shape(), static_cast<uint64_t>(count * rows * cols), t.nbytes()},
         {name});
  return m;
}

Matrix CheckpointReader::quantized_matrix(const std::string& path, int64_t count, int64_t rows, int64_t cols) {
  const TensorView weight = checkpoint_.tensor(path + ".weight");
  const TensorView scales = checkpoint_.tensor(path + ".scales");
  const bool has_biases = checkpoint_.contains(path + ".biases");
  if (weight.dtype() != DType::U32) fail(weight, "has dtype " + std::string(dtype_name(weight.dtype())) + ", expected U32 (packed)");
  const size_t axes = count == 1 ? 2 : 3;
  if (weight.shape().size() != axes || scales.shape().size() != axes)
    fail(weight, "and its scales must have " + std::to_string(axes) + " axes, got " + shape_string(weight.shape()) +
                     " and " + shape_string(scales.shape()));
  const int64_t words = weight.shape().back(), groups = scales.shape().back();
  if (words <= 0 || (words * 32) % cols != 0)
    fail(weight, "holds " + std::to_string(words) + " words per row: no bit width packs " + std::to_string(cols) +
                     " inputs into that (truncated?)");
  if (groups <= 0 || cols % groups != 0)
    fail(scales, "holds " + std::to_string(groups) + " groups per row: no group size divides " + std::to_string(cols));
  Matrix m;
  m.count = count;
  m.rows = rows;
  m.cols = cols;
  m.bits = static_cast<int>(words * 32 / cols);
  m.group_size = static_cast<int>(cols / groups);
  expect_shape(weight, stacked(count, rows, words));
  expect_shape(scales, stacked(count, rows, groups));
  std::string format;
  uint64_t bytes = weight.nbytes() + scales.nbytes();
  if (has_biases) {
    const TensorView biases = checkpoint_.tensor(path + ".biases");
    if (!is_float(scales.dtype())) fail(scales, "has dtype " + std::string(dtype_name(scales.dtype())) + ", expected a float type for affine scales");
    if (biases.dtype() != scales.dtype()) fail(biases, "has dtype " + std::string(dtype_name(biases.dtype())) + ", unlike its scales");
    expect_shape(biases, stacked(count, rows, groups));
    if (!affine_bits_supported(m.bits) || !affine_group_size_supported(m.group_size))
      fail(weight, "would be " + std::to_string(m.bits) + "-bit with group size " + std::to_string(m.group_size) +
                       ", which MLX affine quantization does not define");
    m.format = WeightFormat::affine;
    m.scale_type = scales.dtype() == DType::F32 ? ScaleType::f32 : scales.dtype() == DType::F16 ? ScaleType::f16 : ScaleType::bf16;
    m.biases = biases.data;
    bytes += biases.nbytes();
    format = "affine " + std::to_string(m.bits) + "-bit, group " + std::to_string(m.group_size) + " (" +
             lower(dtype_name(scales.dtype())) + " scales)";
  } else {
    if (scales.dtype() != DType::U8 && scales.dtype() != DType::F8_E8M0)
      fail(scales, "has dtype " + std::string(dtype_name(scales.dtype())) + " and no biases: not an MLX mode gptoss reads");
    if (m.bits != 4 || m.group_size != 32)
      fail(weight, "has U8 scales and no biases (an fp mode) with " + std::to_string(m.bits) + " bits and group size " +
                       std::to_string(m.group_size) + ": only mxfp4 (4 bits, group 32) is supported");
    m.format = WeightFormat::mxfp4;
    m.scale_type = ScaleType::e8m0;
    format = "mxfp4 (e2m1 + e8m0 scale per 32)";
  }
  m.weight = weight.data;
  m.weight_row_stride = words * 4;
  m.weight_matrix_stride = rows * m.weight_row_stride;
  m.scales = scales.data;
  m.scale_row_stride = groups * static_cast<int64_t>(dtype_size(scales.dtype()));
  m.scale_matrix_stride = rows * m.scale_row_stride;
  record({path, format, stacked(count, rows, cols), static_cast<uint64_t>(count * rows * cols), bytes},
         {path + ".weight", path + ".scales", path + ".biases"});
  return m;
}

Matrix CheckpointReader::mxfp4_stack(const std::string& prefix, int64_t count, int64_t rows, int64_t cols) {
  const TensorView blocks = checkpoint_.tensor(prefix + "_blocks");
  const TensorView scales = checkpoint_.tensor(prefix + "_scales");
  if (cols % 32 != 0) fail(blocks, "input width " + std::to_string(cols) + " is not a multiple of 32");
  for (const TensorView* t : {&blocks, &scales})
    if (t->dtype() != DType::U8 && t->dtype() != DType::F8_E8M0 && t->dtype() != DType::I8)
      fail(*t, "has dtype " + std::string(dtype_name(t->dtype())) + ", expected U8");
  expect_shape(blocks, {count, rows, cols / 32, 16});
  expect_shape(scales, {count, rows, cols / 32});
  Matrix m;
  m.format = WeightFormat::mxfp4;
  m.count = count;
  m.rows = rows;
  m.cols = cols;
  m.group_size = 32;
  m.scale_type = ScaleType::e8m0;
  m.weight = blocks.data;
  m.weight_row_stride = cols / 2;
  m.weight_matrix_stride = rows * m.weight_row_stride;
  m.scales = scales.data;
  m.scale_row_stride = cols / 32;
  m.scale_matrix_stride = rows * m.scale_row_stride;
  record({prefix, "mxfp4 (e2m1 + e8m0 scale per 32)", {count, rows, cols},
          static_cast<uint64_t>(count * rows * cols), blocks.nbytes() + scales.nbytes()},
         {prefix + "_blocks", prefix + "_scales"});
  return m;
}

ModelDescription CheckpointReader::description() const {
  ModelDescription d;
  d.tensors = described_;
  for (const auto& name : checkpoint_.names()) {
    if (used_.count(name)) continue;
    const TensorView t = checkpoint_.tensor(name);
    d.tensors.push_back({name, "unused " + lower(dtype_name(t.dtype())), t.shape(), 0, t.nbytes()});
  }
  for (const auto& t : d.tensors) {
    d.parameters += t.parameters;
    d.bytes += t.bytes;
  }
  return d;
}

}  // namespace gptoss
