// Shared helpers for the tests: paths, the transformers reference, random data, temp dirs,
// running the gptoss program.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace gptoss::test {

std::filesystem::path tiny_model_dir();
std::filesystem::path test_data_dir();

// The device the model-level suites load on: "cpu", or "cuda" where tests/cuda/CMakeLists.txt
// compiles a suite again for the GPU with GPTOSS_TEST_DEVICE defined.
#ifndef GPTOSS_TEST_DEVICE
#define GPTOSS_TEST_DEVICE "cpu"
#endif
inline std::string test_device() { return GPTOSS_TEST_DEVICE; }
// Whether `device` can run here (the registry knows it and it is available).
bool device_available(const std::string& device);

// Every tensor of a safetensors file, copied out (the mapping may be unaligned).
struct HostTensor {
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // as stored
  std::vector<float> f32;      // F32, F16 and BF16 tensors, widened
  std::vector<int32_t> i32;    // I32 tensors
};
std::map<std::string, HostTensor> read_all_tensors(const std::filesystem::path& file);

// ‖a − b‖₂ / ‖b‖₂
double relative_l2(const float* a, const float* b, size_t n);

std::vector<float> random_floats(size_t n, uint32_t seed, float stddev = 1.f);

// A fresh empty directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Copies the tiny model (all files) into `dir`.
void copy_tiny_model(const std::filesystem::path& dir);

struct CommandResult {
  int exit_code = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the gptoss program with `args` (shell-quoted by the caller when needed).
CommandResult run_cli(const std::string& args);
// `path` in single quotes, for run_cli.
std::string quoted(const std::filesystem::path& path);
// The error is one line "gptoss: error: …" containing every needle; the exit status is 1.
void expect_one_line_error(const CommandResult& result, std::initializer_list<std::string> needles);

}  // namespace gptoss::test

#include <functional>
#include <nlohmann/json.hpp>

namespace gptoss::test {

// Builds the bytes of a safetensors file: u64 length, `header_text`, then `data`.
std::string safetensors_bytes(const std::string& header_text, const std::string& data);
void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

// Rewrites a safetensors file's header through `edit`, keeping its data area byte for byte.
void edit_safetensors_header(const std::filesystem::path& file, const std::function<void(nlohmann::json&)>& edit);

// Gives `tensor` a new shape (no more bytes than it had) by rewriting the file's header.
void reshape_tensor(const std::filesystem::path& file, const std::string& tensor, const std::vector<int64_t>& shape);

// The shard of the tiny model (copied to `dir`) holding `tensor`.
std::filesystem::path shard_with(const std::filesystem::path& dir, const std::string& tensor);

}  // namespace gptoss::test
