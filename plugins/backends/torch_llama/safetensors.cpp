// Reading: SafetensorsFile, memory-mapped and validated completely. The other
// sources of the library are listed in safetensors_internal.hpp.
#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <tuple>
#include <utility>

#include "safetensors_internal.hpp"

namespace genius::llama {

using namespace safetensors_detail;

namespace {

constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

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

}  // namespace

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

namespace {

// The tensors must tile the data buffer exactly: sorted by offsets, each
// begins where the previous ends and the last ends at the end of the file.
// No overlap (two names aliasing bytes) and no hole (bytes that no tensor
// owns, where a polyglot file could hide content).
void sort_and_check_tiling(const fs::path& path, std::vector<TensorInfo>& tensors, std::uint64_t buffer) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
  });
  std::uint64_t pos = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
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

  sort_and_check_tiling(path, file.tensors_, buffer);
  for (std::size_t i = 0; i < file.tensors_.size(); ++i) file.by_name_.emplace(file.tensors_[i].name, i);
  return file;
}

}  // namespace genius::llama
