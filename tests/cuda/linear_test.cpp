// The CUDA products (backend/cuda/linear.cuh) against the exact product of the dequantized
// weights, computed on the CPU in double from dequantize_row, for every format at gpt-oss-20b
// shapes. Needs a GPU (ctest label gpu); skipped with a message elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cuda/linear.cuh"
#include "cuda/cuda_test_support.h"
#include "kernels/weight_fixtures.h"
#include "quant/float_formats.h"

namespace gptoss {
namespace {

using testing::DeviceArray;
using testing::DeviceMatrix;

// What a grouped product should give: item i uses matrix `matrix_of[i]` and input row
// `x_row[i]`; `round` rounds inputs and weights to bf16 first (the tensor-core path's inputs).
std::vector<float> reference(const Matrix& w, const std::vector<float>& x, const std::vector<int>& matrix_of,
                             const std::vector<int>& x_row, const std::vector<float>& bias, bool round) {
  const auto items = static_cast<int64_t>(matrix_of.size());
  std::vector<float> y(static_cast<size_t>(items * w.rows));
  std::vector<float> row(static_cast<size_t>(w.cols));
  auto r16 = [&](float v) { return round ? bf16_to_f32(f32_to_bf16(v)) : v; };
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t m = 0; m < w.count; ++m) {
      bool used = false;
      for (int64_t i = 0; i < items; ++i) used |= matrix_of[static_cast<size_t>(i)] == m;
      if (!used) continue;
      dequantize_row(w, m, r, row.data());
      for (int64_t i = 0; i < items; ++i) {
        if (matrix_of[static_cast<size_t>(i)] != m) continue;
        const float* xi = x.data() + x_row[static_cast<size_t>(i)] * w.cols;
        double sum = bias.empty() ? 0.0 : bias[static_cast<size_t>(m * w.rows + r)];
        for (int64_t c = 0; c < w.cols; ++c) sum += static_cast<double>(r16(xi[c])) * r16(row[static_cast<size_t>(c)]);
        y[static_cast<size_t>(i * w.rows + r)] = static_cast<float>(sum);
      }
    }
  return y;
}

enum class Kernel { registers, row_tiles, tiled_f32, tiled_bf16 };

// Runs one grouped product on the GPU: `per_matrix[m]` items use matrix m, each reading a random
// input row out of `inputs`; returns (gpu, exact reference, reference on bf16-rounded operands).
struct Outcome {
  double error;          // against the exact product
  double rounded_error;  // against the product of bf16-rounded operands
};

// `listed`: the launch names only the matrices with items, in reverse order, padded with −1
// (as the mixture of experts' routing writes them).
Outcome run_product(const test::OwnedMatrix& host, const std::vector<int>& per_matrix, int inputs, Kernel kernel,
                    bool with_bias, uint32_t seed, bool listed = false) {
  std::mt19937 rng(seed);
  const Matrix& w = host.m;
  const std::vector<float> x =
      test::random_floats(static_cast<size_t>(inputs * w.cols), static_cast<uint32_t>(rng()));
  std::vector<int32_t> offsets{0}, x_rows;
  std::vector<int> matrix_of, x_row;
  for (size_t m = 0; m < per_matrix.size(); ++m) {
    for (int i = 0; i < per_matrix[m]; ++i) {
      matrix_of.push_back(static_cast<int>(m));
      x_row.push_back(static_cast<int>(rng() % static_cast<uint32_t>(inputs)));
      x_rows.push_back(x_row.back());
    }
    offsets.push_back(static_cast<int32_t>(matrix_of.size()));
  }
  const auto items = static_cast<int>(matrix_of.size());
  const std::vector<float> bias =
      with_bias ? test::random_floats(static_cast<size_t>(w.count * w.rows), static_cast<uint32_t>(rng()))
                : std::vector<float>{};

  DeviceMatrix device(host);
  DeviceArray<float> x_device(x), y_device(static_cast<size_t>(items) * w.rows);
  std::vector<int32_t> list;
  for (int m = static_cast<int>(per_matrix.size()) - 1; m >= 0; --m)
    if (per_matrix[static_cast<size_t>(m)] > 0) list.push_back(m);
  list.resize(list.size() + 2, -1);
  DeviceArray<int32_t> offsets_device(offsets), rows_device(x_rows), list_device(list);
  std::unique_ptr<DeviceArray<float>> bias_device;
  if (with_bias) bias_device = std::make_unique<DeviceArray<float>>(bias);
  y_device.poison();

  cuda::LinearProblem p;
  p.w = device.m;
  p.x = x_device.get();
  p.x_stride = w.cols;
  p.x_rows = rows_device.get();
  p.offsets = w.count > 1 ? offsets_device.get() : nullptr;
  p.matrices = listed ? static_cast<int>(list.size()) : static_cast<int>(w.count);
  p.matrix_list = listed ? list_device.get() : nullptr;
  p.items = items;
  p.max_items_per_matrix = *std::max_element(per_matrix.begin(), per_matrix.end());
  p.bias = with_bias ? bias_device->get() : nullptr;
  p.y = y_device.get();
  p.y_stride = w.rows;
  if (kernel == Kernel::registers || kernel == Kernel::row_tiles) {
    if (kernel == Kernel::row_tiles) {
      EXPECT_TRUE(cuda::can_stream_row_tiles(std::span(&p, 1)));
    }
    cuda::linear_streaming(p, nullptr,
                           kernel == Kernel::row_tiles ? cuda::StreamingKernel::row_tiles : cuda::StreamingKernel::registers);
  } else {
    cuda::linear_tiled(p, kernel == Kernel::tiled_bf16 ? cuda::Precision::bf16 : cuda::Precision::f32, nullptr);
  }
  cuda_check(cudaDeviceSynchronize(), "running the product");
  const std::vector<float> y = y_device.download();
  const double exact = testing::relative_error(y, reference(w, x, matrix_of, x_row, bias, false));
  const double rounded = kernel == Kernel::tiled_bf16
                             ? testing::relative_error(y, reference(w, x, matrix_of, x_row, bias, true))
                             : exact;
  return {exact, rounded};
}

bool packed(const Matrix& w) { return w.format == WeightFormat::mxfp4 || w.format == WeightFormat::affine; }

// A problem of one item over w (for asking which kernels take w).
cuda::LinearProblem one_item(const Matrix& w) {
  cuda::LinearProblem p;
  p.w = w;
  p.items = 1;
  p.max_items_per_matrix = 1;
  return p;
}

void expect_exact(const Outcome& o, Kernel kernel, const std::string& what) {
  if (kernel == Kernel::tiled_bf16) {
    EXPECT_LE(o.error, 1e-2) << what;
    EXPECT_LE(o.rounded_error, 1e-5) << what;
  } else {
    EXPECT_LE(o.error, 1e-5) << what;
  }
}

const char* kernel_name(Kernel k) {
  switch (k) {
    case Kernel::registers: return "streaming (registers)";
    case Kernel::row_tiles: return "streaming (row tiles)";
    case Kernel::tiled_f32: return "tiled f32";
    case Kernel::tiled_bf16: return "tiled bf16";
  }
  return "";
}

// The items each kernel is run with: the streaming kernels' decode sizes (row tiles: one or two
// a matrix) and the tiled kernel's.
std::vector<int> items_for(Kernel k) {
  switch (k) {
    case Kernel::registers: return {1, 4, 13};
    case Kernel::row_tiles: return {1, 2};
    default: return {13, 70};
  }
}

constexpr Kernel kEveryKernel[] = {Kernel::registers, Kernel::row_tiles, Kernel::tiled_f32, Kernel::tiled_bf16};

// gpt-oss-20b's expert and attention shapes, through both kernels: q5 gs32 (the MLX build people
// run), MXFP4 (the Hugging Face experts) and bf16 (its attention).
TEST(CudaLinear, TwentyBShapesEveryKernel) {
  GPTOSS_REQUIRE_CUDA();
  // Built in place: a copied OwnedMatrix's view would still point at the original's bytes.
  std::vector<std::pair<std::string, test::OwnedMatrix>> cases;
  cases.emplace_back("affine 5-bit gs32 gate 5760x2880", test::affine(5, 32, ScaleType::bf16, 1, 5760, 2880, 11));
  cases.emplace_back("mxfp4 down 2880x2880", test::mxfp4(1, 2880, 2880, 12));
  cases.emplace_back("bf16 q 4096x2880", test::dense(WeightFormat::bf16, 1, 4096, 2880, 13));
  cases.emplace_back("affine 5-bit gs32 o 2880x4096", test::affine(5, 32, ScaleType::bf16, 1, 2880, 4096, 14));
  for (const auto& [name, m] : cases)
    for (Kernel kernel : kEveryKernel)
      for (int items : kernel == Kernel::row_tiles && !packed(m.m) ? std::vector<int>{} : items_for(kernel))
        expect_exact(run_product(m, {items}, items, kernel, true, 100 + items), kernel,
                     name + ", " + kernel_name(kernel) + ", " + std::to_string(items) + " items");
}

// Every format the CPU engine reads: affine 2–8 bits × groups 32/64/128 × f32/f16/bf16 scales,
// MXFP4, dense f32/f16/bf16; fewer rows (the format, not the shape, is what varies), and 3,072
// inputs (2,880 is not a whole number of 128-groups).
TEST(CudaLinear, EveryFormat) {
  GPTOSS_REQUIRE_CUDA();
  std::vector<std::pair<std::string, test::OwnedMatrix>> cases;
  uint32_t seed = 200;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int group : {32, 64, 128})
      for (ScaleType type : {ScaleType::bf16, ScaleType::f16, ScaleType::f32})
        cases.emplace_back("affine " + std::to_string(bits) + "-bit gs" + std::to_string(group) + " scales " +
                               std::to_string(static_cast<int>(type)),
                           test::affine(bits, group, type, 1, 96, 3072, seed++));
  cases.emplace_back("mxfp4", test::mxfp4(1, 96, 3072, seed++));
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16})
    cases.emplace_back(format_name(f), test::dense(f, 1, 96, 3072, seed++));
  for (const auto& [name, m] : cases)
    for (Kernel kernel : kEveryKernel) {
      if (kernel == Kernel::row_tiles && !packed(m.m)) {
        const cuda::LinearProblem p = one_item(m.m);
        EXPECT_FALSE(cuda::can_stream_row_tiles(std::span(&p, 1))) << "dense rows take the registers' kernel";
        continue;
      }
      const int items = kernel == Kernel::registers ? 3 : kernel == Kernel::row_tiles ? 2 : 40;
      expect_exact(run_product(m, {items}, items, kernel, false, seed++), kernel, name + ", " + kernel_name(kernel));
    }
}

// The mixture of experts' shape: a stack of experts, items sorted by expert, each gathering its
// input row; some experts get none. Strided rows (the interleaved gate/up views) too.
TEST(CudaLinear, GroupedItemsGatherTheirRows) {
  GPTOSS_REQUIRE_CUDA();
  const test::OwnedMatrix experts = test::affine(5, 32, ScaleType::bf16, 6, 1024, 2880, 300);
  test::OwnedMatrix odd_rows = test::mxfp4(6, 1024, 2880, 301);
  odd_rows.m = odd_rows.m.strided_rows(1, 2);
  for (const test::OwnedMatrix* m : {&experts, static_cast<const test::OwnedMatrix*>(&odd_rows)}) {
    for (Kernel kernel : kEveryKernel) {
      // A strided view's copy would run past its rows' bytes: the registers' kernel takes it.
      const bool strided = m->m.weight_row_stride != packed_row_bytes(m->m.format, m->m.cols, m->m.bits);
      if (kernel == Kernel::row_tiles && strided) {
        const cuda::LinearProblem p = one_item(m->m);
        EXPECT_FALSE(cuda::can_stream_row_tiles(std::span(&p, 1)));
        continue;
      }
      const std::vector<int> per_matrix = kernel == Kernel::registers   ? std::vector<int>{1, 0, 3, 0, 9, 1}
                                          : kernel == Kernel::row_tiles ? std::vector<int>{1, 0, 2, 0, 2, 1}
                                                                        : std::vector<int>{70, 0, 5, 0, 130, 1};
      for (bool listed : {false, true})
        expect_exact(run_product(*m, per_matrix, 50, kernel, true, 400, listed), kernel,
                     std::string(format_name(m->m.format)) + " experts, " + kernel_name(kernel) +
                         (listed ? ", listed" : ""));
    }
  }
}

// The attention's q, k and v of gpt-oss-20b in one launch (blocks shared among the three
// products): each output against its own exact product, for a decode step and a few rows.
TEST(CudaLinear, SharedInputProductsInOneLaunch) {
  GPTOSS_REQUIRE_CUDA();
  for (const bool affine : {true, false}) {
    std::vector<test::OwnedMatrix> weights;
    uint32_t seed = 500;
    for (const int64_t rows : {4096, 512, 512})
      weights.push_back(affine ? test::affine(5, 32, ScaleType::bf16, 1, rows, 2880, seed++)
                               : test::dense(WeightFormat::bf16, 1, rows, 2880, seed++));
    for (const auto& [items, kernel] : {std::pair{1, cuda::StreamingKernel::row_tiles},
                                        std::pair{2, cuda::StreamingKernel::row_tiles},
                                        std::pair{2, cuda::StreamingKernel::registers},
                                        std::pair{5, cuda::StreamingKernel::registers}}) {
      const std::vector<float> x = test::random_floats(static_cast<size_t>(items) * 2880, seed++);
      DeviceArray<float> x_device(x);
      std::vector<std::unique_ptr<DeviceMatrix>> device;
      std::vector<std::unique_ptr<DeviceArray<float>>> y, bias;
      std::vector<std::vector<float>> host_bias;
      std::vector<cuda::LinearProblem> problems;
      for (const test::OwnedMatrix& w : weights) {
        device.push_back(std::make_unique<DeviceMatrix>(w));
        host_bias.push_back(test::random_floats(static_cast<size_t>(w.m.rows), seed++));
        bias.push_back(std::make_unique<DeviceArray<float>>(host_bias.back()));
        y.push_back(std::make_unique<DeviceArray<float>>(static_cast<size_t>(items * w.m.rows)));
        y.back()->poison();
        cuda::LinearProblem p;
        p.w = device.back()->m;
        p.x = x_device.get();
        p.x_stride = 2880;
        p.items = items;
        p.max_items_per_matrix = items;
        p.bias = bias.back()->get();
        p.y = y.back()->get();
        p.y_stride = w.m.rows;
        problems.push_back(p);
      }
      ASSERT_TRUE(cuda::can_stream_together(problems));
      EXPECT_EQ(cuda::can_stream_row_tiles(problems), items <= 2 && affine);
      if (kernel == cuda::StreamingKernel::row_tiles && !affine) continue;  // dense: registers only
      cuda::linear_streaming(std::span<const cuda::LinearProblem>(problems), nullptr, kernel);
      cuda_check(cudaDeviceSynchronize(), "running the products");
      const std::vector<int> matrix_of(static_cast<size_t>(items), 0);
      std::vector<int> x_row(static_cast<size_t>(items));
      for (int i = 0; i < items; ++i) x_row[static_cast<size_t>(i)] = i;
      for (size_t i = 0; i < weights.size(); ++i)
        EXPECT_LE(testing::relative_error(y[i]->download(),
                                          reference(weights[i].m, x, matrix_of, x_row, host_bias[i], false)),
                  1e-5)
            << (affine ? "affine 5-bit" : "bf16") << " product " << i << ", " << items << " items"
            << (kernel == cuda::StreamingKernel::row_tiles ? ", row tiles" : ", registers");
    }
  }
}

// Row tiles at their edges: many tiles a block (the ring of stages wraps, the barriers' parity
// flips), a last tile of fewer rows, and tiles of an odd row count (300 rows over 132
// multiprocessors: tiles of 3, a last unit of one row); each against the exact product, beside
// the registers' kernel.
TEST(CudaLinear, RowTilesWrapTheirStagesAndEndShort) {
  GPTOSS_REQUIRE_CUDA();
  std::vector<std::pair<std::string, test::OwnedMatrix>> cases;
  cases.reserve(4);  // (GCC 12 warns of array bounds in the growth path otherwise)
  cases.emplace_back("affine 5-bit 24576x2880", test::affine(5, 32, ScaleType::bf16, 1, 24576, 2880, 600));
  cases.emplace_back("affine 4-bit gs64 104x2880", test::affine(4, 64, ScaleType::bf16, 1, 104, 2880, 601));
  cases.emplace_back("affine 8-bit gs64 300x3072", test::affine(8, 64, ScaleType::bf16, 1, 300, 3072, 602));
  cases.emplace_back("mxfp4 stack 3x8200x2880", test::mxfp4(3, 8200, 2880, 603));
  for (const auto& [name, m] : cases)
    for (Kernel kernel : {Kernel::registers, Kernel::row_tiles})
      for (int items : {1, 2}) {
        const std::vector<int> per_matrix = m.m.count > 1 ? std::vector<int>{items, 0, 1} : std::vector<int>{items};
        expect_exact(run_product(m, per_matrix, 3, kernel, true, 700 + items, m.m.count > 1), kernel,
                     name + ", " + kernel_name(kernel) + ", " + std::to_string(items) + " items");
      }
}

// The experts' gate, up and SwiGLU in one pass (linear_swiglu) against SwiGLU of the exact
// products: MLX's separate gate and up stacks, and Hugging Face's interleaved gate_up (gate
// the even rows, up the odd: the row tiles copy them together), listed experts with biases.
TEST(CudaLinear, GatedProductsOfBothLayouts) {
  GPTOSS_REQUIRE_CUDA();
  constexpr float kLimit = 7.f, kAlpha = 1.702f;
  const int64_t rows = 640, cols = 2880, experts = 4;
  const test::OwnedMatrix mlx_gate = test::affine(5, 32, ScaleType::bf16, experts, rows, cols, 800);
  const test::OwnedMatrix mlx_up = test::affine(5, 32, ScaleType::bf16, experts, rows, cols, 801);
  const test::OwnedMatrix hf_gate_up = test::mxfp4(experts, 2 * rows, cols, 802);
  for (const bool interleaved : {false, true}) {
    // One copy of the interleaved tensor, viewed twice, as the model's weights are.
    const DeviceMatrix first(interleaved ? hf_gate_up : mlx_gate), second(mlx_up);
    const Matrix host_gate = interleaved ? hf_gate_up.m.strided_rows(0, 2) : mlx_gate.m;
    const Matrix host_up = interleaved ? hf_gate_up.m.strided_rows(1, 2) : mlx_up.m;
    const Matrix gate = interleaved ? first.m.strided_rows(0, 2) : first.m;
    const Matrix up = interleaved ? first.m.strided_rows(1, 2) : second.m;
    for (const auto kernel : {cuda::StreamingKernel::registers, cuda::StreamingKernel::row_tiles})
      for (const int items : {1, 2}) {
        // Expert 2 gets `items` inputs, expert 0 one, experts 1 and 3 none; listed as routing does.
        const std::vector<int> matrix_of = items == 1 ? std::vector<int>{0, 2} : std::vector<int>{0, 2, 2};
        std::vector<int> x_row(matrix_of.size());
        for (size_t i = 0; i < x_row.size(); ++i) x_row[i] = static_cast<int>(i);
        const std::vector<int32_t> offsets = {0, 1, 1, static_cast<int32_t>(matrix_of.size()),
                                              static_cast<int32_t>(matrix_of.size())};
        const std::vector<int32_t> list = {2, 0, -1};
        const uint32_t seed = 900 + static_cast<uint32_t>(items) + (interleaved ? 10 : 0);
        const std::vector<float> x = test::random_floats(matrix_of.size() * cols, seed);
        const std::vector<float> gate_bias = test::random_floats(experts * rows, seed + 1);
        const std::vector<float> up_bias = test::random_floats(experts * rows, seed + 2);
        DeviceArray<float> x_device(x), gate_bias_device(gate_bias), up_bias_device(up_bias),
            y_device(matrix_of.size() * rows);
        DeviceArray<int32_t> offsets_device(offsets), list_device(list);
        y_device.poison();
        cuda::LinearProblem p;
        p.w = gate;
        p.x = x_device.get();
        p.x_stride = cols;
        p.offsets = offsets_device.get();
        p.matrix_list = list_device.get();
        p.matrices = static_cast<int>(list.size());
        p.items = static_cast<int>(matrix_of.size());
        p.max_items_per_matrix = items;
        p.bias = gate_bias_device.get();
        p.y = y_device.get();
        p.y_stride = rows;
        if (kernel == cuda::StreamingKernel::row_tiles) {
          EXPECT_TRUE(cuda::can_stream_row_tiles(std::span(&p, 1), &up));
        }
        cuda::linear_swiglu(p, up, up_bias_device.get(), kLimit, kAlpha, nullptr, kernel);
        cuda_check(cudaDeviceSynchronize(), "running the gated product");
        const std::vector<float> g = reference(host_gate, x, matrix_of, x_row, gate_bias, false);
        const std::vector<float> u = reference(host_up, x, matrix_of, x_row, up_bias, false);
        std::vector<float> expected(g.size());
        swiglu(g.data(), u.data(), static_cast<int64_t>(g.size()), kLimit, kAlpha, expected.data());
        EXPECT_LE(testing::relative_error(y_device.download(), expected), 1e-5)
            << (interleaved ? "interleaved mxfp4" : "separate affine 5-bit") << ", " << items << " items, "
            << (kernel == cuda::StreamingKernel::row_tiles ? "row tiles" : "registers");
      }
  }
}

}  // namespace
}  // namespace gptoss
