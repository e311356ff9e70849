// Writing: write_safetensors and safetensors_header, in the reference
// writer's byte layout, through an atomically renamed temporary file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "safetensors_internal.hpp"

namespace genius::llama {
namespace safetensors_detail {

TempFile::TempFile(fs::path target) : target_(std::move(target)) {
  dir_ = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  path_ = (dir_ / ("." + target_.filename().string() + ".tmp.XXXXXX")).string();
  fd_ = ::mkstemp(path_.data());
  if (fd_ < 0) fail_io("creating a temporary file in '" + dir_.string() + "'");
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

void TempFile::write(const void* data, std::size_t size) {
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

void TempFile::commit() {
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

void TempFile::fail_io(const std::string& what) const {
  throw SafetensorsError("cannot write '" + target_.string() + "': " + what + ": " + errno_text());
}

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

}  // namespace safetensors_detail

using namespace safetensors_detail;

namespace {

// A JSON string literal as serde_json writes it (same escapes as nlohmann's
// default dump: \" \\ \b \f \n \r \t, other control bytes as \u00xx).
std::string json_string(std::string_view s, const std::string& context) {
  if (const std::size_t bad = invalid_utf8_at(s); bad != std::string_view::npos)
    throw SafetensorsError(context + ": " + in_quotes(s) + " is not valid UTF-8 (byte offset " + std::to_string(bad) +
                           ")");
  return json(std::string(s)).dump();
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
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

}  // namespace genius::llama
