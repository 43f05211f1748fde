#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "gptoss/error.h"
#include "io/json_limits.h"

namespace gptoss {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw Error(origin + ": " + what);
}

uint64_t as_u64(const json& value, const std::string& origin, const std::string& what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<uint64_t>();
  fail(origin, what + " must be a non-negative integer, got " + json_excerpt(value));
}

// "[2,3]": validated numbers as the header spelled them (never a dump of the untrusted value).
std::string list_text(const std::vector<uint64_t>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
  return s + "]";
}

// Builds the header document like json::parse, counting top-level keys: fewer entries than keys
// means a key came twice (a json object silently merges them). With `name_duplicate` it also
// remembers the first repeated key, which costs a hash set and is only done once one is known
// to exist. nlohmann's parser_callback_t could see keys too, but it puts the parser on a path
// that is quadratic in the number of keys (minutes for 100k tensors).
class HeaderDomBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  HeaderDomBuilder(json& doc, bool name_duplicate) : Base(doc, true), name_duplicate_(name_duplicate) {}

  bool start_object(std::size_t n) {
    ++depth_;
    return Base::start_object(n);
  }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t n) {
    ++depth_;
    return Base::start_array(n);
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }
  bool key(string_t& key) {
    if (depth_ == 1) {
      ++top_level_keys;
      if (name_duplicate_ && duplicate.empty() && !seen_.insert(key).second) duplicate = key;
    }
    return Base::key(key);
  }

  size_t top_level_keys = 0;
  std::string duplicate;

 private:
  bool name_duplicate_;
  int depth_ = 0;
  std::unordered_set<std::string> seen_;
};


TensorRecord parse_entry(const std::string& name, const json& entry, const std::string& origin) {
  const std::string where = "tensor '" + text_excerpt(name) + "'";
  if (!entry.is_object()) fail(origin, where + ": entry is not an object");
  TensorRecord t;
  t.name = name;

  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) fail(origin, where + ": missing dtype");
  const auto dtype = dtype_from_name(dtype_it->get_ref<const std::string&>());
  if (!dtype) fail(origin, where + ": unknown dtype " + json_excerpt(*dtype_it));
  t.dtype = *dtype;

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) fail(origin, where + ": missing shape");
  uint64_t elements = 1;
  std::vector<uint64_t> dims;
  for (const auto& dim : *shape_it) {
    dims.push_back(as_u64(dim, origin, where + ": shape entry"));
    if (dims.back() > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(elements, dims.back(), &elements))
      fail(origin, where + ": shape " + list_text(dims) + (dims.size() < shape_it->size() ? "..." : "") +
                       " is too large");
    t.shape.push_back(static_cast<int64_t>(dims.back()));
  }

  const auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    fail(origin, where + ": data_offsets must be [begin, end]");
  t.begin = as_u64((*offsets_it)[0], origin, where + ": data_offsets");
  t.end = as_u64((*offsets_it)[1], origin, where + ": data_offsets");
  const std::string offsets = list_text({t.begin, t.end});
  if (t.end < t.begin) fail(origin, where + ": data_offsets " + offsets + " end before begin");

  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, dtype_size(t.dtype), &bytes) || bytes != t.end - t.begin)
    fail(origin, where + ": shape " + list_text(dims) + " of " + std::string(dtype_name(t.dtype)) +
                     " needs " + std::to_string(elements) + " elements but data_offsets " + offsets + " hold " + std::to_string(t.end - t.begin) + " bytes");
  return t;
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape()) n *= d;
  return n;
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> file, const std::string& origin) {
  if (file.size() < 8) fail(origin, "truncated: " + std::to_string(file.size()) + " bytes, no header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[static_cast<size_t>(i)];
  if (header_len >= kMaxSafetensorsHeaderBytes)
    fail(origin, "header length " + std::to_string(header_len) + " is not under 100 MB");
  if (header_len > file.size() - 8)
    fail(origin, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                     std::to_string(file.size()) + " bytes)");

  const auto* text = reinterpret_cast<const char*>(file.data() + 8);
  check_json_depth({text, header_len}, origin + ": header");
  json doc;
  size_t top_level_keys = 0;
  try {
    HeaderDomBuilder builder(doc, /*name_duplicate=*/false);
    json::sax_parse(text, text + header_len, &builder);
    top_level_keys = builder.top_level_keys;
  } catch (const json::exception& e) {
    fail(origin, "header is not valid JSON: " + text_excerpt(e.what()));
  }
  if (doc.is_object() && doc.size() != top_level_keys) {
    json again;  // parsed once already, so this cannot fail
    HeaderDomBuilder naming(again, /*name_duplicate=*/true);
    json::sax_parse(text, text + header_len, &naming);
    fail(origin, "tensor '" + text_excerpt(naming.duplicate) + "' appears twice in the header");
  }
  if (!doc.is_object()) fail(origin, "header is not a JSON object");

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  const uint64_t data_size = file.size() - header.data_start;
  for (const auto& [key, value] : doc.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(origin, "__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail(origin, "__metadata__ value '" + text_excerpt(mk) + "' is not a string");
        header.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    TensorRecord t = parse_entry(key, value, origin);
    if (t.end > data_size)
      fail(origin, "tensor '" + text_excerpt(key) + "': data_offsets [" + std::to_string(t.begin) + ", " +
                       std::to_string(t.end) + "] exceed the data area of " + std::to_string(data_size) +
                       " bytes");
    header.tensors.push_back(std::move(t));
  }

  std::vector<const TensorRecord*> by_offset;
  for (const auto& t : header.tensors)
    if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorRecord* a, const TensorRecord* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(origin, "tensors '" + text_excerpt(by_offset[i - 1]->name) + "' and '" + text_excerpt(by_offset[i]->name) +
                       "' overlap");
  return header;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(path), header_(parse_safetensors_header({file_.data(), file_.size()}, path.string())) {}

TensorView SafetensorsFile::view(const TensorRecord& record) const {
  return TensorView{&record, file_.data() + header_.data_start + record.begin, &file_.path()};
}

}  // namespace gptoss
