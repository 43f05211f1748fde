#include "backend/cuda/device_info.h"

#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"

namespace gptoss::cuda {

int multiprocessor_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    cuda_check(cudaGetDevice(&device), "reading the device");
    cuda_check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "reading the device");
    return sms;
  }();
  return count;
}

int compute_capability() {
  static const int capability = [] {
    int device = 0, major = 0, minor = 0;
    cuda_check(cudaGetDevice(&device), "reading the device");
    cuda_check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "reading the device");
    cuda_check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "reading the device");
    return 10 * major + minor;
  }();
  return capability;
}

}  // namespace gptoss::cuda
