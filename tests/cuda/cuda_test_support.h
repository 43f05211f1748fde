// What the GPU tests share: the skip when this machine has no CUDA device (reported by ctest as
// skipped, never as passed), device buffers that free themselves, and random data.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "kernels/weight_fixtures.h"

namespace gptoss::testing {

// True when a CUDA device can be used here.
bool cuda_device_present();

#define GPTOSS_REQUIRE_CUDA()                                                                       \
  do {                                                                                              \
    if (!::gptoss::testing::cuda_device_present())                                                  \
      GTEST_SKIP() << "no CUDA device on this machine: GPU tests run on the H200 machine (ctest -L gpu)"; \
  } while (0)

// `count` elements of T in device memory.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    cuda_check(cudaMalloc(&data_, sizeof(T) * (count == 0 ? 1 : count)), "test allocation");
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(data_); }

  T* get() const { return data_; }
  size_t size() const { return count_; }
  // upload() and poison() are complete when they return: a copy from pageable memory may return
  // before its DMA lands, a memset is asynchronous, and the backend's streams do not wait for
  // the legacy stream either runs on.
  void upload(const std::vector<T>& host) {
    cuda_check(cudaMemcpy(data_, host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice), "test upload");
    cuda_check(cudaDeviceSynchronize(), "test upload");
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    cuda_check(cudaMemcpy(host.data(), data_, sizeof(T) * count_, cudaMemcpyDeviceToHost), "test download");
    return host;
  }
  // Fills every byte with 0xFF (a NaN in f32, bf16 and f16): unwritten outputs show.
  void poison() {
    cuda_check(cudaMemset(data_, 0xFF, sizeof(T) * count_), "test poison");
    cuda_check(cudaDeviceSynchronize(), "test poison");
  }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// An OwnedMatrix's bytes on the device, and the Matrix viewing them.
struct DeviceMatrix {
  explicit DeviceMatrix(const test::OwnedMatrix& host)
      : weight(host.weight), scales(host.scales), biases(host.biases), m(host.m) {
    // Keep each view's offset into its bytes (a strided view starts past the first row).
    m.weight = weight.get() + (host.m.weight - host.weight.data());
    m.scales = host.scales.empty() ? nullptr : scales.get() + (host.m.scales - host.scales.data());
    m.biases = host.biases.empty() ? nullptr : biases.get() + (host.m.biases - host.biases.data());
  }
  DeviceArray<uint8_t> weight, scales, biases;
  Matrix m;
};

// test::relative_l2 of two rows of values (‖a − b‖ / ‖b‖ in double; NaN or infinity when a
// value is not finite, so a tolerance check fails); infinity when the sizes differ.
double relative_error(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace gptoss::testing
