// Internal to genius_llama_safetensors: the helpers its sources share (error
// messages, overflow-safe arithmetic, UTF-8 and strict JSON checks, the dtype
// table, the temporary file of the atomic writes). Only safetensors.hpp is
// public.
//
// The sources of the library:
//   safetensors.cpp           reading: SafetensorsFile
//   safetensors_common.cpp    the helpers declared here
//   safetensors_dtype.cpp     dtypes and the F16 / BF16 conversions
//   safetensors_writer.cpp    write_safetensors, safetensors_header
//   safetensors_sharded.cpp   ModelWeights and write_sharded
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "safetensors.hpp"

namespace genius::llama::safetensors_detail {

using nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Messages (safetensors_common.cpp)

[[noreturn]] void fail(const fs::path& file, const std::string& message);

std::string errno_text();

std::string shortened(std::string_view s);

std::string in_quotes(std::string_view s);

// "[2, 3, 4]"
template <typename Int>
std::string shape_text(const std::vector<Int>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A JSON value in a message, cut short so a hostile header cannot flood it.
std::string json_text(const json& value);

// ---------------------------------------------------------------------------
// Arithmetic and parsing (safetensors_common.cpp)

inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}
inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

// Offset of the first byte that breaks UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos when `s` is valid.
std::size_t invalid_utf8_at(std::string_view s);

// Parse JSON text strictly: nlohmann keeps the last of duplicate keys, which
// would let two readers of one file disagree, so duplicates are an error.
// Throws SafetensorsError("<file>: <what>: ...").
json parse_json_strict(std::string_view text, const fs::path& file, const std::string& what);

// ---------------------------------------------------------------------------
// The dtype table (safetensors_dtype.cpp)

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};

// Throws SafetensorsError for an out-of-range enum value.
const DtypeEntry& entry(Dtype dtype);

// ---------------------------------------------------------------------------
// Writing (safetensors_writer.cpp)

// A temporary file beside `target`, renamed over it by commit(); removed by
// the destructor if commit() was not reached.
class TempFile {
 public:
  explicit TempFile(fs::path target);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  void write(const void* data, std::size_t size);
  void write(std::string_view s) { write(s.data(), s.size()); }

  void commit();

 private:
  [[noreturn]] void fail_io(const std::string& what) const;

  fs::path target_;
  fs::path dir_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Check the tensors to write; `context` starts every message.
void validate_tensors(const std::vector<TensorToWrite>& tensors, const std::string& context);

}  // namespace genius::llama::safetensors_detail
