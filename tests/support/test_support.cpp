#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backend/registry.h"
#include "gptoss/error.h"
#include "quant/float_formats.h"

namespace gptoss::test {

std::filesystem::path tiny_model_dir() { return GPTOSS_TINY_MODEL_DIR; }
std::filesystem::path test_data_dir() { return GPTOSS_TEST_DATA_DIR; }

bool device_available(const std::string& device) {
  try {
    resolve_device(device);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::map<std::string, HostTensor> read_all_tensors(const std::filesystem::path& file) {
  SafetensorsFile f(file);
  std::map<std::string, HostTensor> out;
  for (const auto& record : f.header().tensors) {
    const TensorView view = f.view(record);
    HostTensor t;
    t.dtype = record.dtype;
    t.shape = record.shape;
    t.bytes.assign(view.data, view.data + view.nbytes());
    const auto n = static_cast<size_t>(view.numel());
    if (record.dtype == DType::F32 || record.dtype == DType::F16 || record.dtype == DType::BF16) {
      t.f32.resize(n);
      for (size_t i = 0; i < n; ++i)
        t.f32[i] = record.dtype == DType::F32   ? load_le<float>(view.data + 4 * i)
                   : record.dtype == DType::F16 ? f16_to_f32(load_le<uint16_t>(view.data + 2 * i))
                                                : bf16_to_f32(load_le<uint16_t>(view.data + 2 * i));
    } else if (record.dtype == DType::I32) {
      t.i32.resize(n);
      for (size_t i = 0; i < n; ++i) t.i32[i] = load_le<int32_t>(view.data + 4 * i);
    }
    out[record.name] = std::move(t);
  }
  return out;
}

double relative_l2(const float* a, const float* b, size_t n) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < n; ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    ref += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff / ref);
}

std::vector<float> random_floats(size_t n, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "gptoss-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void copy_tiny_model(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& entry : std::filesystem::directory_iterator(tiny_model_dir()))
    std::filesystem::copy_file(entry.path(), dir / entry.path().filename(),
                               std::filesystem::copy_options::overwrite_existing);
}

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::string quoted(const std::filesystem::path& path) {
  std::string s = "'";
  s += path.string();
  s += "'";
  return s;
}

void expect_one_line_error(const CommandResult& r, std::initializer_list<std::string> needles) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("gptoss: error: ", 0), 0u) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in " << r.err;
}

CommandResult run_cli(const std::string& args) {
  TempDir tmp;
  const std::string cmd = std::string(GPTOSS_CLI) + " " + args + " >" + (tmp / "out").string() + " 2>" +
                          (tmp / "err").string();
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  return r;
}

}  // namespace gptoss::test

namespace gptoss::test {

std::string safetensors_bytes(const std::string& header_text, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header_text + data;
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void edit_safetensors_header(const std::filesystem::path& file, const std::function<void(nlohmann::json&)>& edit) {
  const std::string bytes = read_file(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  edit(header);
  write_file(file, safetensors_bytes(header.dump(), bytes.substr(8 + n)));
}

void reshape_tensor(const std::filesystem::path& file, const std::string& tensor, const std::vector<int64_t>& shape) {
  edit_safetensors_header(file, [&](nlohmann::json& header) {
    auto& entry = header.at(tensor);
    const auto dtype = dtype_from_name(entry.at("dtype").get<std::string>());
    uint64_t bytes = dtype_size(*dtype);
    for (int64_t d : shape) bytes *= static_cast<uint64_t>(d);
    const uint64_t begin = entry.at("data_offsets")[0];
    if (begin + bytes > entry.at("data_offsets")[1].get<uint64_t>()) throw std::runtime_error("reshape_tensor grows " + tensor);
    entry["shape"] = shape;
    entry["data_offsets"][1] = begin + bytes;
  });
}

std::filesystem::path shard_with(const std::filesystem::path& dir, const std::string& tensor) {
  const auto index = nlohmann::json::parse(read_file(dir / "model.safetensors.index.json"));
  return dir / index.at("weight_map").at(tensor).get<std::string>();
}

}  // namespace gptoss::test
