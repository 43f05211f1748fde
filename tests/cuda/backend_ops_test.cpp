// Each op of the CUDA backend against the CPU backend's (the tested reference) on the same
// random inputs and weights, both in float32 (--precision f32): embeddings of every format,
// RMSNorm, a linear layer with bias, RoPE at far positions, the mixture of experts (MLX affine
// stacks, and the Hugging Face MXFP4 layout's interleaved gate/up rows), the residual add, the
// output-row gather and greedy sampling; for decode (1 row), small batches and prefill (the
// tiled products). The weights reach the GPU through the backend's own prepare_weights.
// Needs a GPU (ctest label gpu).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "cuda/cuda_test_support.h"
#include "kernels/weight_fixtures.h"

namespace gptoss {
namespace {

constexpr int64_t kHidden = 640, kInner = 384, kVocab = 1000;
constexpr int kExperts = 8, kTopK = 4;

// One backend, its context and the weights as it sees them.
struct Side {
  explicit Side(const std::string& device) : backend(make_backend(device, {.threads = 2, .precision = "f32"})) {
    ctx = backend->make_context();
  }
  std::unique_ptr<Backend> backend;
  std::unique_ptr<ExecutionContext> ctx;
  ModelWeights weights;
  std::vector<Buffer> buffers;

  Activations upload(const std::vector<float>& host, int64_t rows, int64_t cols) {
    buffers.push_back(backend->allocate(ElementType::f32, rows * cols, "test activations"));
    void* data = buffers.back().data();
    if (std::string(backend->name()) == "cuda") {
      // The copy may return before its DMA lands, and the context's stream does not wait for it.
      cuda_check(cudaMemcpy(data, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), "test upload");
      cuda_check(cudaDeviceSynchronize(), "test upload");
    } else
      std::memcpy(data, host.data(), host.size() * sizeof(float));
    return {data, ElementType::f32, rows, cols};
  }
  Activations poisoned(int64_t rows, int64_t cols) { return upload(std::vector<float>(size_t(rows * cols), NAN), rows, cols); }
  std::vector<float> download(Activations a) {
    std::vector<float> host(static_cast<size_t>(a.rows * a.cols));
    ctx->stream().synchronize();
    backend->read_logits(*ctx, a, host.data());
    return host;
  }
};

// Weights of one layer plus embedding: MLX-style affine everywhere (mlx = true), or the Hugging
// Face layout (bf16 attention and router, MXFP4 experts with gate and up interleaved by row).
struct Weights {
  std::vector<test::OwnedMatrix> owned;
  VectorStore vectors;
  ModelWeights w;

  const Matrix& keep(test::OwnedMatrix m) {
    owned.push_back(std::move(m));
    return owned.back().m;
  }
  explicit Weights(bool mlx) {
    owned.reserve(16);
    w.embedding = mlx ? keep(test::affine(5, 32, ScaleType::bf16, 1, kVocab, kHidden, 1))
                      : keep(test::dense(WeightFormat::bf16, 1, kVocab, kHidden, 1));
    w.lm_head = mlx ? keep(test::affine(8, 64, ScaleType::bf16, 1, kVocab, kHidden, 2))
                    : keep(test::dense(WeightFormat::bf16, 1, kVocab, kHidden, 2));
    w.final_norm = vectors.add(test::random_floats(kHidden, 3));
    LayerWeights layer;
    MoeWeights& m = layer.moe;
    m.norm = vectors.add(test::random_floats(kHidden, 4));
    m.router = mlx ? keep(test::affine(8, 64, ScaleType::bf16, 1, kExperts, kHidden, 5))
                   : keep(test::dense(WeightFormat::bf16, 1, kExperts, kHidden, 5));
    m.router_bias = vectors.add(test::random_floats(kExperts, 6));
    if (mlx) {
      m.gate = keep(test::affine(5, 32, ScaleType::bf16, kExperts, kInner, kHidden, 7));
      m.up = keep(test::affine(4, 64, ScaleType::f16, kExperts, kInner, kHidden, 8));
      m.down = keep(test::affine(6, 128, ScaleType::bf16, kExperts, kHidden, kInner, 9));
    } else {
      const Matrix& gate_up = keep(test::mxfp4(kExperts, 2 * kInner, kHidden, 7));
      m.gate = gate_up.strided_rows(0, 2);
      m.up = gate_up.strided_rows(1, 2);
      m.down = keep(test::mxfp4(kExperts, kHidden, kInner, 9));
    }
    m.gate_bias = vectors.add(test::random_floats(kExperts * kInner, 10));
    m.up_bias = vectors.add(test::random_floats(kExperts * kInner, 11));
    m.down_bias = vectors.add(test::random_floats(kExperts * kHidden, 12));
    layer.attention.q = keep(test::dense(WeightFormat::bf16, 1, 256, kHidden, 13));
    layer.attention.q_bias = vectors.add(test::random_floats(256, 14));
    // k like q (one launch on the GPU); v of another format in the MLX layout (MLX may quantize
    // each module its own way), so that the products run apart there.
    layer.attention.k = keep(test::dense(WeightFormat::bf16, 1, 64, kHidden, 16));
    layer.attention.k_bias = vectors.add(test::random_floats(64, 17));
    layer.attention.v = mlx ? keep(test::affine(8, 64, ScaleType::bf16, 1, 64, kHidden, 18))
                            : keep(test::dense(WeightFormat::bf16, 1, 64, kHidden, 18));
    layer.attention.v_bias = vectors.add(test::random_floats(64, 19));
    layer.attention.norm = vectors.add(test::random_floats(kHidden, 15));
    w.layers.push_back(layer);
  }
};

BatchLayout layout_of(int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  BatchLayout layout;
  BatchLayout::Sequence s;
  s.rows = rows;
  s.start_position = static_cast<int32_t>(rng() % 5000);
  layout.sequences = {s};
  for (int r = 0; r < rows; ++r) {
    layout.tokens.push_back(static_cast<int32_t>(rng() % kVocab));
    layout.positions.push_back(s.start_position + r);
  }
  for (int r = rows - 1; r >= 0; r -= 3) layout.output_rows.push_back(r);
  return layout;
}

class CudaBackendOps : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    GPTOSS_REQUIRE_CUDA();
    weights = std::make_unique<Weights>(GetParam());
    cpu = std::make_unique<Side>("cpu");
    gpu = std::make_unique<Side>("cuda");
    cpu->weights = cpu->backend->prepare_weights(weights->w);
    gpu->weights = gpu->backend->prepare_weights(weights->w);
  }
  // Runs `op` on both sides for a batch of `rows` and compares the outputs it returns.
  template <class Op>
  void compare(const std::string& what, int rows, double tolerance, Op&& op) {
    const BatchLayout layout = layout_of(rows, static_cast<uint32_t>(rows));
    SCOPED_TRACE(what + ", " + std::to_string(rows) + " rows");
    cpu->ctx->begin_batch(layout);
    gpu->ctx->begin_batch(layout);
    const std::vector<float> want = cpu->download(op(*cpu, rows));
    const std::vector<float> got = gpu->download(op(*gpu, rows));
    const double error = testing::relative_error(got, want);
    EXPECT_LE(error, tolerance);
  }
  std::unique_ptr<Weights> weights;
  std::unique_ptr<Side> cpu, gpu;
};

const std::vector<int> kRows = {1, 5, 40, 130};

TEST_P(CudaBackendOps, Embed) {
  for (int rows : kRows)
    compare("embed", rows, 1e-6, [](Side& s, int n) {
      Activations out = s.poisoned(n, kHidden);
      s.backend->embed(*s.ctx, s.weights.embedding, out);
      return out;
    });
}

TEST_P(CudaBackendOps, RmsNormLinearAddGather) {
  for (int rows : kRows) {
    const auto x = test::random_floats(static_cast<size_t>(rows * kHidden), 20 + rows);
    const auto delta = test::random_floats(static_cast<size_t>(rows * kHidden), 30 + rows);
    compare("rmsnorm", rows, 1e-6, [&](Side& s, int n) {
      Activations out = s.poisoned(n, kHidden);
      s.backend->rmsnorm(*s.ctx, s.upload(x, n, kHidden), s.weights.final_norm, 1e-5f, out);
      return out;
    });
    compare("linear with bias", rows, 1e-5, [&](Side& s, int n) {
      const AttentionWeights& a = s.weights.layers[0].attention;
      Activations out = s.poisoned(n, a.q.rows);
      s.backend->linear(*s.ctx, s.upload(x, n, kHidden), a.q, a.q_bias, out);
      return out;
    });
    compare("lm_head", rows, 1e-5, [&](Side& s, int n) {
      Activations out = s.poisoned(n, kVocab);
      s.backend->linear(*s.ctx, s.upload(x, n, kHidden), s.weights.lm_head, {}, out);
      return out;
    });
    // The fused RMSNorm + q, k and v products (one launch on the GPU): each output, and the
    // normalized rows handed on.
    const char* const fused_outputs[] = {"rmsnorm_linears' normed rows", "rmsnorm_linears' q", "rmsnorm_linears' k",
                                         "rmsnorm_linears' v"};
    for (int which = 0; which < 4; ++which)
      compare(fused_outputs[which], rows, 1e-5, [&](Side& s, int n) {
        const AttentionWeights& a = s.weights.layers[0].attention;
        Activations normed = s.poisoned(n, kHidden), q = s.poisoned(n, a.q.rows), k = s.poisoned(n, a.k.rows),
                    v = s.poisoned(n, a.v.rows);
        const Backend::Product products[] = {{&a.q, a.q_bias, q}, {&a.k, a.k_bias, k}, {&a.v, a.v_bias, v}};
        s.backend->rmsnorm_linears(*s.ctx, s.upload(x, n, kHidden), a.norm, 1e-5f, normed, products);
        const Activations outputs[] = {normed, q, k, v};
        return outputs[which];
      });
    compare("linear into the residual", rows, 1e-5, [&](Side& s, int n) {
      const AttentionWeights& a = s.weights.layers[0].attention;
      const auto residual = test::random_floats(static_cast<size_t>(n * a.q.rows), 70 + n);
      Activations stream = s.upload(residual, n, a.q.rows);
      s.backend->linear_residual(*s.ctx, s.upload(x, n, kHidden), a.q, a.q_bias, stream, s.poisoned(n, a.q.rows));
      return stream;
    });
    compare("add", rows, 1e-7, [&](Side& s, int n) {
      Activations acc = s.upload(x, n, kHidden);
      s.backend->add(*s.ctx, acc, s.upload(delta, n, kHidden));
      return acc;
    });
    compare("gather output rows", rows, 0, [&](Side& s, int n) {
      const int outputs = (n + 2) / 3;
      Activations out = s.poisoned(outputs, kHidden);
      s.backend->gather_output_rows(*s.ctx, s.upload(x, n, kHidden), out);
      return out;
    });
  }
}

TEST_P(CudaBackendOps, RopeAtFarPositions) {
  RopeParameters rope;
  for (int i = 0; i < 32; ++i) rope.inv_freq.push_back(std::pow(150000.f, -static_cast<float>(2 * i) / 64.f));
  rope.attention_scaling = 1.3466f;
  for (int rows : kRows) {
    const auto x = test::random_floats(static_cast<size_t>(rows * 8 * 64), 40 + rows);
    compare("rope", rows, 1e-6, [&](Side& s, int n) {
      Activations a = s.upload(x, n, 8 * 64);
      s.backend->rope(*s.ctx, a, 8, 64, rope);
      return a;
    });
  }
}

TEST_P(CudaBackendOps, MixtureOfExperts) {
  const MoeParameters params{kExperts, kTopK, 7.f, 1.702f};
  for (int rows : kRows) {
    const auto x = test::random_floats(static_cast<size_t>(rows * kHidden), 50 + rows);
    compare("moe", rows, 1e-5, [&](Side& s, int n) {
      Activations out = s.poisoned(n, kHidden);
      s.backend->moe(*s.ctx, s.upload(x, n, kHidden), s.weights.layers[0].moe, params, out);
      return out;
    });
    compare("moe into the residual", rows, 1e-5, [&](Side& s, int n) {
      Activations stream = s.upload(test::random_floats(static_cast<size_t>(n * kHidden), 80 + n), n, kHidden);
      s.backend->moe_residual(*s.ctx, s.upload(x, n, kHidden), s.weights.layers[0].moe, params, stream,
                              s.poisoned(n, kHidden));
      return stream;
    });
    compare("rmsnorm + moe into the residual", rows, 1e-5, [&](Side& s, int n) {
      Activations stream = s.upload(x, n, kHidden);
      s.backend->rmsnorm_moe_residual(*s.ctx, stream, 1e-5f, s.poisoned(n, kHidden), s.weights.layers[0].moe, params,
                                      s.poisoned(n, kHidden));
      return stream;
    });
  }
}

TEST_P(CudaBackendOps, GreedySamplingPicksTheCpuTokens) {
  for (int rows : kRows) {
    const BatchLayout layout = layout_of(rows, 7);
    const auto logits = test::random_floats(static_cast<size_t>(rows * kVocab), 60 + rows, 5.f);
    SamplerOptions greedy;
    std::vector<SampleRequest> requests(static_cast<size_t>(rows));
    for (auto& r : requests) {
      r.options = &greedy;
      r.vocab_size = static_cast<int32_t>(kVocab);
    }
    std::vector<SampleResult> want(requests.size()), got(requests.size());
    cpu->ctx->begin_batch(layout);
    gpu->ctx->begin_batch(layout);
    cpu->backend->sample(*cpu->ctx, cpu->upload(logits, rows, kVocab), requests, want);
    gpu->backend->sample(*gpu->ctx, gpu->upload(logits, rows, kVocab), requests, got);
    for (int r = 0; r < rows; ++r) EXPECT_EQ(got[size_t(r)].token, want[size_t(r)].token) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, CudaBackendOps, ::testing::Values(true, false),
                         [](const auto& param_info) { return param_info.param ? "MlxAffine" : "HuggingFaceMxfp4"; });

}  // namespace
}  // namespace gptoss
