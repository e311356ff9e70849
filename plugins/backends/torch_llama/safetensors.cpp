#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

namespace genius::llama {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
// The valid header nests three levels (root, tensor entry, shape array); the
// cap only bounds the work a hostile header can cause in ignored fields.
constexpr int kMaxJsonDepth = 64;
// The index of a sharded checkpoint is a few MB for the largest models.
constexpr std::uint64_t kMaxIndexSize = 100'000'000;

[[noreturn]] void fail(const fs::path& file, const std::string& message) {
  throw SafetensorsError(file.string() + ": " + message);
}

std::string errno_text() {
  return std::strerror(errno);
}

// Names and texts from a file can be arbitrarily long; messages quote at most
// this many bytes of them.
constexpr std::size_t kMaxQuoted = 200;

std::string shortened(std::string_view s) {
  if (s.size() <= kMaxQuoted) return std::string(s);
  return std::string(s.substr(0, kMaxQuoted)) + "...(" + std::to_string(s.size()) + " bytes)";
}

std::string in_quotes(std::string_view s) {
  return "'" + shortened(s) + "'";
}

// "[2, 3, 4]"
template <typename Int>
std::string shape_text(const std::vector<Int>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A JSON value in a message, cut short so a hostile header cannot flood it.
std::string json_text(const json& value) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}
bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

// Offset of the first byte that breaks UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos when `s` is valid.
std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (n - i < len) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Parse JSON text strictly: nlohmann keeps the last of duplicate keys, which
// would let two readers of one file disagree, so duplicates are an error.
// Throws SafetensorsError("<file>: <what>: ...").
json parse_json_strict(std::string_view text, const fs::path& file, const std::string& what) {
  struct Object {
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<Object> open;  // objects being parsed, innermost last
  int depth = 0;

  const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > kMaxJsonDepth)
          fail(file, what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        if (event == json::parse_event_t::object_start) open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        --depth;
        if (event == json::parse_event_t::object_end) open.pop_back();
        break;
      case json::parse_event_t::key: {
        Object& obj = open.back();
        obj.last_key = parsed.get<std::string>();
        if (!obj.keys.insert(obj.last_key).second) {
          if (open.size() == 1)
            fail(file, what + ": duplicate key " + in_quotes(obj.last_key) + " (a name may appear only once)");
          fail(file, what + ": duplicate key " + in_quotes(obj.last_key) + " inside " +
                         in_quotes(open[open.size() - 2].last_key));
        }
        break;
      }
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // The message quotes the last token, which a hostile file can make huge.
    fail(file, what + " is not valid JSON: " + shortened(e.what()));
  }
}

// A non-negative JSON integer, as the format's shapes and offsets are.
// `field` names it in messages ("shape[1]", "data_offsets[0]").
std::uint64_t json_uint(const json& v, const fs::path& file, const std::string& where, const std::string& field) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() == 0) return 0;  // "-0"
  if (v.is_number_integer()) fail(file, where + field + " = " + json_text(v) + " is negative");
  if (v.is_number_float())
    fail(file, where + field + " = " + json_text(v) + " is not an integer (or does not fit in 64 bits)");
  fail(file, where + field + " is a " + std::string(v.type_name()) + " (" + json_text(v) +
                 "), expected a non-negative integer");
}

std::uint64_t read_le64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::uint32_t float_bits(float f) {
  std::uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(std::uint32_t u) {
  float f = 0;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1},       {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},   {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::I16, "I16", 2}, {Dtype::U16, "U16", 2}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},       {Dtype::I32, "I32", 4}, {Dtype::U32, "U32", 4}, {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},         {Dtype::I64, "I64", 8}, {Dtype::U64, "U64", 8},
};

const DtypeEntry& entry(Dtype dtype) {
  const auto i = static_cast<std::size_t>(dtype);
  if (i >= std::size(kDtypes)) throw SafetensorsError("invalid Dtype value " + std::to_string(i));
  return kDtypes[i];
}

}  // namespace

// ---------------------------------------------------------------------------
// Dtypes

const std::vector<Dtype>& all_dtypes() {
  static const std::vector<Dtype> all = [] {
    std::vector<Dtype> v;
    for (const DtypeEntry& e : kDtypes) v.push_back(e.dtype);
    return v;
  }();
  return all;
}

std::size_t dtype_size(Dtype dtype) {
  return entry(dtype).size;
}

std::string_view dtype_name(Dtype dtype) {
  return entry(dtype).name;
}

std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const DtypeEntry& e : kDtypes)
    if (e.name == name) return e.dtype;
  return std::nullopt;
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
//   normal:    (-1)^s * 2^(e-15) * 1.m
//   subnormal: (-1)^s * 2^-14    * 0.m   = (-1)^s * m * 2^-24
float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exp = (bits >> 10) & 0x1Fu;
  const std::uint32_t mant = bits & 0x3FFu;
  if (exp == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mant), -24);  // exact: mant < 2^10
    return sign ? -magnitude : magnitude;
  }
  if (exp == 0x1F) return bits_float(sign | 0x7F800000u | (mant << 13));  // inf, or NaN with its payload
  return bits_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

std::uint16_t float_to_f16(float value) {
  const std::uint32_t u = float_bits(value);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t exp = (u >> 23) & 0xFFu;
  const std::uint32_t mant = u & 0x7FFFFFu;
  if (exp == 0xFF) {  // inf, or NaN: keep the top payload bits and force quiet
    if (mant == 0) return static_cast<std::uint16_t>(sign | 0x7C00u);
    return static_cast<std::uint16_t>(sign | 0x7E00u | (mant >> 13));
  }
  // Work on the magnitude as an integer in units of 2^-24 (the smallest f16
  // subnormal) plus a remainder, rounding to nearest even once.
  const int e = static_cast<int>(exp) - 127;                      // unbiased exponent (normal floats)
  if (e > 15) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 2^16: past the largest finite half
  if (e >= -14) {
    // Normal half: drop 13 mantissa bits with round-to-nearest-even; a carry
    // into the exponent is correct (it may reach inf = 0x7C00).
    std::uint32_t h = (static_cast<std::uint32_t>(e + 15) << 10) | (mant >> 13);
    const std::uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  // Subnormal half (or zero): value = 1.mant * 2^e = full * 2^(e-23), with the
  // implicit bit in `full`; in units of 2^-24 that is full >> (-e - 1).
  if (exp == 0 || e < -25) return sign;  // below half the smallest subnormal: rounds to 0
  const std::uint32_t full = mant | 0x800000u;
  const int shift = -e - 1;  // 14..24
  std::uint32_t h = full >> shift;
  const std::uint32_t rest = full & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;  // may carry into the smallest normal: correct
  return static_cast<std::uint16_t>(sign | h);
}

float bf16_to_float(std::uint16_t bits) {
  return bits_float(static_cast<std::uint32_t>(bits) << 16);
}

// Round to nearest even on the dropped 16 bits: add 0x7FFF plus the lowest
// kept bit, then truncate. Overflow of the largest finite values rounds to inf.
std::uint16_t float_to_bf16(float value) {
  const std::uint32_t u = float_bits(value);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

// ---------------------------------------------------------------------------
// Reading

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      header_size_(std::exchange(other.header_size_, 0)),
      tensors_(std::move(other.tensors_)),
      by_name_(std::move(other.by_name_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    header_size_ = std::exchange(other.header_size_, 0);
    tensors_ = std::move(other.tensors_);
    by_name_ = std::move(other.by_name_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  unmap();
}

void SafetensorsFile::unmap() noexcept {
  if (map_ != nullptr) ::munmap(const_cast<std::byte*>(map_), map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(std::string_view name) const {
  if (const TensorInfo* info = find(name)) return *info;
  fail(path_, "no tensor named " + in_quotes(name));
}

ByteView SafetensorsFile::data(const TensorInfo& info) const {
  if (map_ == nullptr) throw SafetensorsError("SafetensorsFile::data on a moved-from object");
  const std::uint64_t buffer = map_size_ - 8 - header_size_;  // validated at open: no underflow
  if (info.data_begin > info.data_end || info.data_end > buffer)
    fail(path_, "tensor " + in_quotes(info.name) + ": data_offsets [" + std::to_string(info.data_begin) + ", " +
                    std::to_string(info.data_end) + "] are outside this file's " + std::to_string(buffer) +
                    "-byte data buffer");
  return {map_ + 8 + header_size_ + info.data_begin, static_cast<std::size_t>(info.byte_size())};
}

namespace {

// Parse and check one tensor entry of the header against a data buffer of
// `buffer` bytes.
TensorInfo parse_tensor_entry(const fs::path& file, const std::string& name, const json& entry, std::uint64_t buffer) {
  const std::string where = "tensor " + in_quotes(name) + ": ";
  if (!entry.is_object())
    fail(file, where + "entry is a " + std::string(entry.type_name()) +
                   ", expected an object with dtype, shape and data_offsets");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field)) fail(file, where + "missing '" + field + "'");

  TensorInfo info;
  info.name = name;

  const json& dtype = entry.at("dtype");
  if (!dtype.is_string())
    fail(file,
         where + "dtype is a " + std::string(dtype.type_name()) + " (" + json_text(dtype) + "), expected a string");
  const auto parsed_dtype = dtype_from_name(dtype.get_ref<const std::string&>());
  if (!parsed_dtype) fail(file, where + "unknown dtype " + json_text(dtype));
  info.dtype = *parsed_dtype;

  const json& shape = entry.at("shape");
  if (!shape.is_array())
    fail(file,
         where + "shape is a " + std::string(shape.type_name()) + " (" + json_text(shape) + "), expected an array");
  std::vector<std::uint64_t> dims;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::uint64_t d = json_uint(shape[i], file, where, "shape[" + std::to_string(i) + "]");
    if (d > kInt64Max)
      fail(file, where + "shape[" + std::to_string(i) + "] = " + std::to_string(d) +
                     " is larger than the largest supported dimension " + std::to_string(kInt64Max));
    dims.push_back(d);
  }
  // The element count must fit in 64 bits even when a later dimension is 0:
  // the reference implementation rejects such a shape too.
  std::uint64_t numel = 1;
  for (const std::uint64_t d : dims)
    if (!checked_mul(numel, d, numel))
      fail(file, where + "shape " + shape_text(dims) + " has more elements than fit in 64 bits");
  std::uint64_t nbytes = 0;
  if (!checked_mul(numel, dtype_size(info.dtype), nbytes))
    fail(file, where + "shape " + shape_text(dims) + " of " + std::string(dtype_name(info.dtype)) + " has " +
                   std::to_string(numel) + " elements, whose byte size overflows 64 bits");
  info.numel = numel;
  info.shape.assign(dims.begin(), dims.end());

  const json& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    fail(file, where + "data_offsets must be [begin, end], got " + json_text(offsets));
  info.data_begin = json_uint(offsets[0], file, where, "data_offsets[0]");
  info.data_end = json_uint(offsets[1], file, where, "data_offsets[1]");
  const std::string offsets_text =
      "data_offsets [" + std::to_string(info.data_begin) + ", " + std::to_string(info.data_end) + "]";
  if (info.data_begin > info.data_end) fail(file, where + offsets_text + ": begin is after end");
  if (info.data_end > buffer)
    fail(file,
         where + offsets_text + ": end is past the end of the data buffer (" + std::to_string(buffer) + " bytes)");
  if (info.byte_size() != nbytes)
    fail(file, where + offsets_text + " span " + std::to_string(info.byte_size()) + " bytes, but shape " +
                   shape_text(dims) + " of " + std::string(dtype_name(info.dtype)) + " needs " +
                   std::to_string(nbytes) + " bytes");
  return info;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  SafetensorsFile file;
  file.path_ = path;

  // O_NONBLOCK: opening a FIFO must not hang (it is then refused as not a
  // regular file); it changes nothing for regular files and mmap.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, "cannot open: " + errno_text());
  struct stat st {};
  const int stat_rc = ::fstat(fd, &st);
  const int stat_errno = errno;
  if (stat_rc != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    errno = stat_errno;
    fail(path, stat_rc != 0 ? "cannot stat: " + errno_text() : std::string("not a regular file"));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(path, size == 0 ? std::string("file is empty; a safetensors file starts with an 8-byte header length")
                         : "file is " + std::to_string(size) +
                               " bytes, shorter than the 8-byte header length that starts a safetensors file");
  }
  if (size > std::numeric_limits<std::size_t>::max()) {
    ::close(fd);
    fail(path, "file of " + std::to_string(size) + " bytes cannot be mapped");
  }
  void* map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) {
    errno = map_errno;
    fail(path, "cannot mmap " + std::to_string(size) + " bytes: " + errno_text());
  }
  file.map_ = static_cast<const std::byte*>(map);
  file.map_size_ = static_cast<std::size_t>(size);
  // From here on `file` owns the mapping: a throw unmaps it.

  const std::uint64_t n = read_le64(file.map_);
  if (n > kMaxHeaderSize)
    fail(path, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderSize) +
                   " bytes (the file is " + std::to_string(size) + " bytes)");
  if (n > size - 8)
    fail(path, "header length " + std::to_string(n) + " runs past the end of the file: 8 + " + std::to_string(n) +
                   " > " + std::to_string(size) + " bytes");
  file.header_size_ = n;
  const std::string_view header(reinterpret_cast<const char*>(file.map_ + 8), static_cast<std::size_t>(n));
  if (header.empty() || header.front() != '{')
    fail(path, header.empty() ? std::string("header is empty; it must be a JSON object starting with '{'")
                              : "header must be a JSON object starting with '{', it starts with byte " +
                                    std::to_string(static_cast<unsigned char>(header.front())));
  if (const std::size_t bad = invalid_utf8_at(header); bad != std::string_view::npos)
    fail(path, "header is not valid UTF-8 (byte " + std::to_string(static_cast<unsigned char>(header[bad])) +
                   " at header offset " + std::to_string(bad) + ")");
  const json root = parse_json_strict(header, path, "header");
  if (!root.is_object()) fail(path, "header is a JSON " + std::string(root.type_name()) + ", expected an object");

  const std::uint64_t buffer = size - 8 - n;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        fail(path, "__metadata__ is a " + std::string(value.type_name()) + ", expected an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          fail(path, "__metadata__: value of " + in_quotes(mkey) + " is a " + std::string(mvalue.type_name()) + " (" +
                         json_text(mvalue) + "), expected a string");
        file.metadata_.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    file.tensors_.push_back(parse_tensor_entry(path, key, value, buffer));
  }

  // The tensors must tile the data buffer exactly: sorted by offsets, each
  // begins where the previous ends and the last ends at the end of the file.
  // No overlap (two names aliasing bytes) and no hole (bytes that no tensor
  // owns, where a polyglot file could hide content).
  std::sort(file.tensors_.begin(), file.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
  });
  std::uint64_t pos = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : file.tensors_) {
    const auto span = [](const TensorInfo& x) {
      return "[" + std::to_string(x.data_begin) + ", " + std::to_string(x.data_end) + ")";
    };
    if (t.data_begin < pos)
      fail(path, "tensor " + in_quotes(t.name) + " at bytes " + span(t) + " overlaps tensor " +
                     in_quotes(previous->name) + " at bytes " + span(*previous));
    if (t.data_begin > pos)
      fail(path, "bytes [" + std::to_string(pos) + ", " + std::to_string(t.data_begin) +
                     ") of the data buffer belong to no tensor (a hole " +
                     (previous ? "between " + in_quotes(previous->name) + " and " : std::string("before ")) +
                     in_quotes(t.name) + ")");
    pos = t.data_end;
    previous = &t;
  }
  if (pos != buffer)
    fail(path, "bytes [" + std::to_string(pos) + ", " + std::to_string(buffer) +
                   ") at the end of the data buffer belong to no tensor");

  for (std::size_t i = 0; i < file.tensors_.size(); ++i) file.by_name_.emplace(file.tensors_[i].name, i);
  return file;
}

// ---------------------------------------------------------------------------
// Writing

namespace {

// A temporary file beside `target`, renamed over it by commit(); removed by
// the destructor if commit() was not reached.
class TempFile {
 public:
  explicit TempFile(fs::path target) : target_(std::move(target)) {
    dir_ = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
    path_ = (dir_ / ("." + target_.filename().string() + ".tmp.XXXXXX")).string();
    fd_ = ::mkstemp(path_.data());
    if (fd_ < 0) fail_io("creating a temporary file in '" + dir_.string() + "'");
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  void write(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      // Linux writes at most ~2 GiB per call; stay well below.
      const std::size_t chunk = std::min<std::size_t>(size, std::size_t{1} << 30);
      const ssize_t n = ::write(fd_, p, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_io("writing the temporary file '" + path_ + "'");
      }
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  void commit() {
    if (::fchmod(fd_, 0644) != 0) fail_io("setting permissions of '" + path_ + "'");
    if (::fsync(fd_) != 0) fail_io("syncing '" + path_ + "'");
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail_io("closing '" + path_ + "'");
    if (::rename(path_.c_str(), target_.c_str()) != 0) fail_io("renaming '" + path_ + "' over it");
    committed_ = true;
    // Persist the rename itself; the data is already safe if this fails.
    if (const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  [[noreturn]] void fail_io(const std::string& what) const {
    throw SafetensorsError("cannot write '" + target_.string() + "': " + what + ": " + errno_text());
  }

  fs::path target_;
  fs::path dir_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

// A JSON string literal as serde_json writes it (same escapes as nlohmann's
// default dump: \" \\ \b \f \n \r \t, other control bytes as \u00xx).
std::string json_string(std::string_view s, const std::string& context) {
  if (const std::size_t bad = invalid_utf8_at(s); bad != std::string_view::npos)
    throw SafetensorsError(context + ": " + in_quotes(s) + " is not valid UTF-8 (byte offset " + std::to_string(bad) +
                           ")");
  return json(std::string(s)).dump();
}

// Check the tensors to write; `context` starts every message.
void validate_tensors(const std::vector<TensorToWrite>& tensors, const std::string& context) {
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    const std::string where = context + ": tensor " + in_quotes(t.name) + ": ";
    if (t.name == "__metadata__") throw SafetensorsError(where + "the name is reserved for the metadata map");
    if (!names.insert(t.name).second) throw SafetensorsError(where + "name given twice");
    entry(t.dtype);  // throws for an out-of-range enum value
    std::uint64_t numel = 1;
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (t.shape[i] < 0)
        throw SafetensorsError(where + "shape[" + std::to_string(i) + "] = " + std::to_string(t.shape[i]) +
                               " is negative");
      if (!checked_mul(numel, static_cast<std::uint64_t>(t.shape[i]), numel))
        throw SafetensorsError(where + "shape " + shape_text(t.shape) + " has more elements than fit in 64 bits");
    }
    std::uint64_t nbytes = 0;
    const bool fits = checked_mul(numel, dtype_size(t.dtype), nbytes);
    if (!fits || nbytes != t.byte_size)
      throw SafetensorsError(where + std::to_string(t.byte_size) + " bytes given, but shape " + shape_text(t.shape) +
                             " of " + std::string(dtype_name(t.dtype)) + " needs " +
                             (fits ? std::to_string(nbytes) : std::string("more than 2^64")) + " bytes");
    if (t.data == nullptr && t.byte_size > 0) throw SafetensorsError(where + "data is null");
  }
}

struct PreparedFile {
  std::string head;                         // length prefix + padded header
  std::vector<const TensorToWrite*> order;  // data-buffer order
};

PreparedFile prepare_file(const std::vector<TensorToWrite>& tensors, const std::map<std::string, std::string>& metadata,
                          const std::string& context) {
  validate_tensors(tensors, context);
  PreparedFile out;
  for (const TensorToWrite& t : tensors) out.order.push_back(&t);
  // The reference writer's order: decreasing dtype (= alignment), then name.
  // Because the header is padded to 8 bytes, every tensor then starts at a
  // multiple of its element size.
  std::stable_sort(out.order.begin(), out.order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += json_string(key, context + ": metadata key") + ":" +
                json_string(value, context + ": metadata value of " + in_quotes(key));
    }
    header += "}";
  }
  std::uint64_t offset = 0;
  for (const TensorToWrite* t : out.order) {
    if (header.size() > 1) header += ',';
    header += json_string(t->name, context + ": tensor name");
    header += ":{\"dtype\":\"" + std::string(dtype_name(t->dtype)) + "\",\"shape\":[";
    for (std::size_t i = 0; i < t->shape.size(); ++i) header += (i ? "," : "") + std::to_string(t->shape[i]);
    std::uint64_t end = 0;
    if (!checked_add(offset, t->byte_size, end))
      throw SafetensorsError(context + ": the tensors total more than 2^64 bytes");
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > SafetensorsFile::kMaxHeaderSize)
    throw SafetensorsError(context + ": header of " + std::to_string(header.size()) + " bytes exceeds the limit of " +
                           std::to_string(SafetensorsFile::kMaxHeaderSize) + " bytes that readers accept");
  out.head = le64(header.size()) + header;
  return out;
}

// The whole of a small file (the index), with a size cap.
std::string read_small_file(const fs::path& path, std::uint64_t cap) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot stat: " + ec.message());
  if (size > cap) fail(path, "file of " + std::to_string(size) + " bytes exceeds the limit of " + std::to_string(cap));
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open: " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, "cannot read: " + errno_text());
  return ss.str();
}

// A shard name must be a plain file name in the checkpoint directory.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name.find("..") == std::string::npos && name.find('\0') == std::string::npos && name != ".";
}

// model-00001-of-00003.safetensors (at least 5 digits each, like "{:05d}").
bool is_shard_file_name(const std::string& name) {
  const auto digits = [&](std::size_t& i) {
    const std::size_t start = i;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
    return i - start >= 5;
  };
  const auto literal = [&](std::size_t& i, std::string_view s) {
    if (name.compare(i, s.size(), s) != 0) return false;
    i += s.size();
    return true;
  };
  std::size_t i = 0;
  return literal(i, "model-") && digits(i) && literal(i, "-of-") && digits(i) && literal(i, ".safetensors") &&
         i == name.size();
}

std::string shard_file_name(std::size_t index, std::size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return buf;
}

}  // namespace

std::string safetensors_header(const std::vector<TensorToWrite>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  return prepare_file(tensors, metadata, "safetensors header").head;
}

void write_safetensors(const fs::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const PreparedFile prepared = prepare_file(tensors, metadata, "cannot write '" + path.string() + "'");
  TempFile out(path);
  out.write(prepared.head);
  for (const TensorToWrite* t : prepared.order) out.write(t->data, t->byte_size);
  out.commit();
}

// ---------------------------------------------------------------------------
// Sharded checkpoints

std::optional<ModelWeights::Ref> ModelWeights::find(std::string_view name) const {
  const auto it = locations_.find(name);
  if (it == locations_.end()) return std::nullopt;
  const SafetensorsFile& file = files_[it->second.file];
  return Ref{&file, &file.tensors()[it->second.tensor]};
}

ModelWeights::Ref ModelWeights::at(std::string_view name) const {
  if (auto ref = find(name)) return *ref;
  fail(dir_, "the checkpoint has no tensor named " + in_quotes(name));
}

std::vector<std::string> ModelWeights::names() const {
  std::vector<std::string> out;
  out.reserve(locations_.size());
  for (const auto& [name, location] : locations_) out.push_back(name);
  return out;
}

ModelWeights ModelWeights::open(const fs::path& dir) {
  ModelWeights weights;
  weights.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "not a directory");

  const fs::path single = dir / kSingleWeightsFile;
  const fs::path index_path = dir / kWeightsIndexFile;
  if (fs::exists(single, ec)) {
    weights.files_.push_back(SafetensorsFile::open(single));
    const auto& tensors = weights.files_.front().tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i) weights.locations_.emplace(tensors[i].name, Location{0, i});
    return weights;
  }
  if (!fs::exists(index_path, ec))
    fail(dir, std::string("no ") + kSingleWeightsFile + " and no " + kWeightsIndexFile + " in the directory");

  const json index = parse_json_strict(read_small_file(index_path, kMaxIndexSize), index_path, "index");
  if (!index.is_object())
    fail(index_path, "index is a JSON " + std::string(index.type_name()) + ", expected an object");
  if (index.contains("metadata")) {
    if (!index.at("metadata").is_object())
      fail(index_path, "\"metadata\" is a " + std::string(index.at("metadata").type_name()) + ", expected an object");
    weights.index_metadata_ = index.at("metadata");
  }
  if (!index.contains("weight_map")) fail(index_path, "missing \"weight_map\"");
  const json& weight_map = index.at("weight_map");
  if (!weight_map.is_object())
    fail(index_path, "\"weight_map\" is a " + std::string(weight_map.type_name()) + ", expected an object");

  // Every shard, once, in sorted order; each name checked before any file is touched.
  std::map<std::string, std::string> first_tensor_of;  // shard -> a tensor the index puts there
  for (const auto& [tensor, shard] : weight_map.items()) {
    if (!shard.is_string())
      fail(index_path, "weight_map: shard of tensor " + in_quotes(tensor) + " is a " + std::string(shard.type_name()) +
                           " (" + json_text(shard) + "), expected a file name");
    const std::string& name = shard.get_ref<const std::string&>();
    if (!is_plain_file_name(name))
      fail(index_path, "weight_map: shard " + json_text(shard) + " of tensor " + in_quotes(tensor) +
                           " is not a plain file name inside the checkpoint directory");
    first_tensor_of.emplace(name, tensor);
  }
  std::map<std::string, std::size_t> file_of_shard;
  for (const auto& [shard, tensor] : first_tensor_of) {
    const fs::path shard_path = dir / shard;
    if (!fs::exists(shard_path, ec))
      fail(index_path, "shard " + in_quotes(shard) + " (holding tensor " + in_quotes(tensor) +
                           ") does not exist: " + shard_path.string());
    file_of_shard.emplace(shard, weights.files_.size());
    weights.files_.push_back(SafetensorsFile::open(shard_path));
  }

  // The weights are the tensors of those shards; a name in two shards would
  // make the result depend on the loading order.
  for (std::size_t f = 0; f < weights.files_.size(); ++f) {
    const auto& tensors = weights.files_[f].tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto [it, inserted] = weights.locations_.emplace(tensors[i].name, Location{f, i});
      if (!inserted)
        fail(index_path, "tensor " + in_quotes(tensors[i].name) + " is in two shards: " +
                             in_quotes(weights.files_[it->second.file].path().filename().string()) + " and " +
                             in_quotes(weights.files_[f].path().filename().string()));
    }
  }
  // ... and the index must agree with where they are.
  for (const auto& [tensor, shard] : weight_map.items()) {
    const std::string& name = shard.get_ref<const std::string&>();
    const auto it = weights.locations_.find(tensor);
    if (it == weights.locations_.end())
      fail(index_path, "weight_map puts tensor " + in_quotes(tensor) + " in shard " + in_quotes(name) +
                           ", which does not contain it");
    if (it->second.file != file_of_shard.at(name))
      fail(index_path, "weight_map puts tensor " + in_quotes(tensor) + " in shard " + in_quotes(name) +
                           ", but it is in " + in_quotes(weights.files_[it->second.file].path().filename().string()));
  }
  return weights;
}

void write_sharded(const fs::path& dir, const std::vector<TensorToWrite>& tensors, std::uint64_t max_shard_bytes,
                   const std::map<std::string, std::string>& metadata) {
  const std::string context = "cannot write checkpoint '" + dir.string() + "'";
  validate_tensors(tensors, context);  // before any file is created

  // huggingface_hub's split_state_dict_into_shards: fill in order; a tensor
  // above the limit gets its own shard at once (placed before the shard being
  // filled); otherwise start a new shard when this one would overflow.
  std::vector<std::vector<std::size_t>> shards;
  std::vector<std::size_t> current;
  std::uint64_t current_size = 0;
  std::uint64_t total_size = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::uint64_t size = tensors[i].byte_size;
    if (!checked_add(total_size, size, total_size))
      throw SafetensorsError(context + ": the tensors total more than 2^64 bytes");
    if (size > max_shard_bytes) {
      shards.push_back({i});
      continue;
    }
    if (current_size + size > max_shard_bytes) {  // no overflow: both <= total_size
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(i);
    current_size += size;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw SafetensorsError(context + ": cannot create the directory: " + ec.message());

  const auto subset = [&](const std::vector<std::size_t>& indices) {
    std::vector<TensorToWrite> out;
    out.reserve(indices.size());
    for (const std::size_t i : indices) out.push_back(tensors[i]);  // copies names and shapes, not data
    return out;
  };

  std::set<std::string> written;
  if (shards.size() == 1) {
    write_safetensors(dir / kSingleWeightsFile, subset(shards.front()), metadata);
    written.insert(kSingleWeightsFile);
  } else {
    json weight_map = json::object();
    for (std::size_t s = 0; s < shards.size(); ++s) {
      const std::string name = shard_file_name(s, shards.size());
      write_safetensors(dir / name, subset(shards[s]), metadata);
      written.insert(name);
      for (const std::size_t i : shards[s]) weight_map[tensors[i].name] = name;
    }
    // transformers: json.dumps(index, indent=2, sort_keys=True) + "\n".
    const json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
    TempFile out(dir / kWeightsIndexFile);
    out.write(index.dump(2, ' ', /*ensure_ascii=*/true) + "\n");
    out.commit();
    written.insert(kWeightsIndexFile);
  }

  // Remove what an earlier save left that the new set does not use: a stale
  // model.safetensors would win over the new index when loading.
  std::vector<fs::path> stale;
  try {
    for (const auto& item : fs::directory_iterator(dir)) {
      const std::string name = item.path().filename().string();
      const bool ours = name == kSingleWeightsFile || name == kWeightsIndexFile || is_shard_file_name(name);
      if (ours && !written.count(name)) stale.push_back(item.path());
    }
  } catch (const fs::filesystem_error& e) {
    throw SafetensorsError(context + ": cannot list the directory: " + e.what());
  }
  for (const fs::path& path : stale) {
    fs::remove(path, ec);
    if (ec) throw SafetensorsError(context + ": cannot remove the stale '" + path.string() + "': " + ec.message());
  }
}

}  // namespace genius::llama
