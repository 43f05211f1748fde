#include "eval/logit_store.h"

#include <cstdio>
#include <cstring>
#include <map>

#include "gptoss/error.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace gptoss {

namespace {

constexpr const char* kFormat = "gptoss-top-log-probs";
constexpr const char* kVersion = "1";

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

template <typename T>
std::span<const uint8_t> bytes_of(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

class StoreReader {
 public:
  explicit StoreReader(const std::filesystem::path& path) : file_(path), origin_(path.string()) {}

  const std::string& origin() const { return origin_; }

  std::string metadata(const std::string& key) const {
    const auto& m = file_.header().metadata;
    const auto it = m.find(key);
    if (it == m.end()) throw Error(origin_ + ": no '" + key + "' in the metadata: not a file written by --save-logits");
    return it->second;
  }

  template <typename T>
  std::vector<T> tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape) const {
    for (const TensorRecord& record : file_.header().tensors) {
      if (record.name != name) continue;
      if (record.dtype != dtype || record.shape != shape)
        throw Error(origin_ + ": tensor '" + name + "' is " + std::string(dtype_name(record.dtype)) + " " +
                    shape_string(record.shape) + ", expected " + std::string(dtype_name(dtype)) + " " +
                    shape_string(shape));
      const TensorView view = file_.view(record);
      std::vector<T> out(static_cast<size_t>(view.numel()));
      std::memcpy(out.data(), view.data, view.nbytes());  // little-endian, like the file
      return out;
    }
    throw Error(origin_ + ": no tensor '" + name + "'");
  }

  std::vector<int64_t> shape(const std::string& name) const {
    for (const TensorRecord& record : file_.header().tensors)
      if (record.name == name) return record.shape;
    throw Error(origin_ + ": no tensor '" + name + "'");
  }

 private:
  SafetensorsFile file_;
  std::string origin_;
};

void check_ids(const std::vector<int32_t>& ids, int64_t vocab, const std::string& tensor, const std::string& origin) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw Error(origin + ": tensor '" + tensor + "' holds id " + std::to_string(ids[i]) + " at element " +
                  std::to_string(i) + ", outside the vocabulary of " + std::to_string(vocab));
}

}  // namespace

TopLogProbs::TopLogProbs(int64_t tokens, int k)
    : top_k(k),
      target(static_cast<size_t>(tokens)),
      target_log_prob(static_cast<size_t>(tokens)),
      rest_log_prob(static_cast<size_t>(tokens)),
      top_ids(static_cast<size_t>(tokens * k)),
      top_log_probs(static_cast<size_t>(tokens * k)) {}

void save_top_log_probs(const std::filesystem::path& path, const TopLogProbs& r, const EvaluationIdentity& identity) {
  const int64_t n = r.size(), k = r.top_k;
  const std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                       {"version", kVersion},
                                                       {"vocab", std::to_string(identity.vocab)},
                                                       {"fingerprint", hex(identity.fingerprint)},
                                                       {"protocol", identity.protocol}};
  write_safetensors(path,
                    {{{"target", DType::I32, {n}}, bytes_of(r.target)},
                     {{"target_log_prob", DType::F32, {n}}, bytes_of(r.target_log_prob)},
                     {{"rest_log_prob", DType::F32, {n}}, bytes_of(r.rest_log_prob)},
                     {{"top_ids", DType::I32, {n, k}}, bytes_of(r.top_ids)},
                     {{"top_log_probs", DType::F32, {n, k}}, bytes_of(r.top_log_probs)}},
                    metadata);
}

TopLogProbs load_top_log_probs(const std::filesystem::path& path, const EvaluationIdentity& expected) {
  const StoreReader file(path);
  const std::string& origin = file.origin();
  if (file.metadata("format") != kFormat || file.metadata("version") != kVersion)
    throw Error(origin + ": format '" + file.metadata("format") + "' version " + file.metadata("version") +
                ", expected '" + kFormat + "' version " + kVersion);
  if (file.metadata("vocab") != std::to_string(expected.vocab))
    throw Error(origin + ": saved from a model with " + file.metadata("vocab") + " logits; this one has " +
                std::to_string(expected.vocab));
  if (file.metadata("fingerprint") != hex(expected.fingerprint))
    throw Error(origin + ": saved from other tokens or windows (" + file.metadata("protocol") + ", fingerprint " +
                file.metadata("fingerprint") + "; this run: " + expected.protocol + ", fingerprint " +
                hex(expected.fingerprint) + "): use the same --data and protocol flags");
  const std::vector<int64_t> top_shape = file.shape("top_ids");
  if (top_shape.size() != 2 || top_shape[1] < 1 || top_shape[1] > expected.vocab)
    throw Error(origin + ": tensor 'top_ids' has shape " + shape_string(top_shape) +
                ", expected [tokens, K] with 1 ≤ K ≤ the vocabulary");
  const int64_t n = top_shape[0];
  TopLogProbs r;
  r.top_k = static_cast<int>(top_shape[1]);
  r.target = file.tensor<int32_t>("target", DType::I32, {n});
  r.target_log_prob = file.tensor<float>("target_log_prob", DType::F32, {n});
  r.rest_log_prob = file.tensor<float>("rest_log_prob", DType::F32, {n});
  r.top_ids = file.tensor<int32_t>("top_ids", DType::I32, top_shape);
  r.top_log_probs = file.tensor<float>("top_log_probs", DType::F32, top_shape);
  check_ids(r.target, expected.vocab, "target", origin);
  check_ids(r.top_ids, expected.vocab, "top_ids", origin);
  return r;
}

}  // namespace gptoss
