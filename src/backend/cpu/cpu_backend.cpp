#include "backend/cpu/cpu_backend.h"

#include <cstring>

#include "backend/cpu/attention.h"
#include "backend/cpu/linear.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/norm_rope.h"

namespace gptoss {

CpuBackend::CpuBackend(int threads) : pool_(threads) {}

DeviceBuffer CpuBackend::allocate(int64_t floats) {
  auto* data = new float[static_cast<size_t>(floats)]();
  return DeviceBuffer(data, floats, [](float* p) { delete[] p; });
}

void CpuBackend::copy_to_host(const float* device, int64_t floats, float* host) {
  std::memcpy(host, device, sizeof(float) * static_cast<size_t>(floats));
}

void CpuBackend::embed(const Matrix& table, Activations out) {
  const auto& tokens = layout_->tokens;
  pool_.parallel_for(out.rows, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) dequantize_row(table, 0, tokens[static_cast<size_t>(r)], out.data + r * out.cols);
  });
}

void CpuBackend::rmsnorm(Activations x, Vector weight, float eps, Activations out) {
  pool_.parallel_for(x.rows, 8, [&](int64_t begin, int64_t end, int) {
    rmsnorm_rows(x.data + begin * x.cols, end - begin, x.cols, weight.data, eps, out.data + begin * x.cols);
  });
}

void CpuBackend::linear(Activations x, const Matrix& w, Vector bias, Activations y) {
  gptoss::linear({x.data, x.rows, &w, 0, bias.data, y.data, y.cols}, pool_);
}

void CpuBackend::rope(Activations x, int heads, int head_dim, const RopeParameters& rope) {
  pool_.parallel_for(x.rows, 8, [&](int64_t begin, int64_t end, int) {
    rope_rows(x.data + begin * x.cols, end - begin, heads, head_dim, layout_->positions.data() + begin, rope);
  });
}

void CpuBackend::attention(Activations q, Activations k, Activations v, KvLayer cache,
                           const AttentionParameters& params, Activations out) {
  attention_rows(q.data, k.data, v.data, *layout_, cache, params, out.data, pool_);
  store_kv(k.data, v.data, *layout_, k.cols, cache);
}

void CpuBackend::moe(Activations x, const MoeWeights& weights, const MoeParameters& params, Activations out) {
  moe_rows(x.data, x.rows, weights, params, out.data, pool_);
}

void CpuBackend::add(Activations x, Activations delta) {
  const int64_t n = x.rows * x.cols;
  for (int64_t i = 0; i < n; ++i) x.data[i] += delta.data[i];
}

void CpuBackend::gather_output_rows(Activations x, Activations out) {
  for (size_t i = 0; i < layout_->output_rows.size(); ++i)
    std::memcpy(out.data + static_cast<int64_t>(i) * x.cols, x.data + layout_->output_rows[i] * x.cols,
                sizeof(float) * static_cast<size_t>(x.cols));
}

}  // namespace gptoss
