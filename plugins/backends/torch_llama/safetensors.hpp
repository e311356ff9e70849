// Safetensors checkpoints: read (memory-mapped, fully validated), write
// (atomically, in the reference writer's byte layout) and sharded
// directories as Hugging Face transformers writes them.
//
// Format (https://github.com/huggingface/safetensors#format):
//
//   [8 bytes]  N, unsigned 64-bit little-endian: the header length
//   [N bytes]  UTF-8 JSON object, starting with '{', padded with spaces:
//              {"__metadata__": {"format": "pt"},
//               "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
//   [rest]     the data buffer; data_offsets are [begin, end) within it
//
// The reader treats every file as untrusted: each length, offset and shape is
// checked with overflow-safe arithmetic before any byte is touched, and every
// violation throws SafetensorsError naming the file, the tensor or field and
// the numbers involved. It never reads outside the mapping.
//
// This library needs no torch: the model code builds at::Tensor from
// `SafetensorsFile::data()` itself (at::from_blob on the bytes, shape and
// dtype given here). Depends only on the C++ standard library, POSIX and
// nlohmann-json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::llama {

// ---------------------------------------------------------------------------
// Dtypes

/// Element types of the format. The enumerators are in the reference
/// implementation's order (increasing alignment); the writer orders tensors by
/// it, so keep it when adding one.
enum class Dtype : std::uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
};

/// Every dtype, in enum order.
const std::vector<Dtype>& all_dtypes();

/// Bytes per element: 1 (BOOL, U8, I8, F8_*), 2, 4 or 8.
std::size_t dtype_size(Dtype dtype);

/// The name used in the header: "F32", "BF16", "F8_E4M3", ...
std::string_view dtype_name(Dtype dtype);

/// The dtype with that exact (case-sensitive) header name, or nullopt.
std::optional<Dtype> dtype_from_name(std::string_view name);

/// IEEE 754 binary16 bits to float, exactly (subnormals, +-inf, NaN kept).
float f16_to_float(std::uint16_t bits);

/// float to IEEE binary16 bits, rounding to nearest even; overflow gives
/// +-inf, NaN stays a (quiet) NaN of the same sign.
std::uint16_t float_to_f16(float value);

/// bfloat16 bits to float: they are the upper 16 bits of the float32.
float bf16_to_float(std::uint16_t bits);

/// float to bfloat16 bits, rounding to nearest even (as torch does); NaN stays
/// a quiet NaN of the same sign.
std::uint16_t float_to_bf16(float value);

// ---------------------------------------------------------------------------
// Reading

/// Every error of this library: a malformed file, an I/O failure, an invalid
/// argument to a writer. The message names the file and what is wrong.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Read-only bytes inside a mapping (or any buffer). No alignment is promised:
/// files whose header length is not a multiple of 8 put tensors at odd
/// addresses (the reference writer pads, so its files are aligned).
struct ByteView {
  const std::byte* data = nullptr;
  std::size_t size = 0;

  const std::byte* begin() const { return data; }
  const std::byte* end() const { return data + size; }
};

/// One tensor of a file, as its header describes it (validated).
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;  ///< row-major; empty = scalar; each entry <= INT64_MAX
  std::uint64_t numel = 1;          ///< product of shape (1 for a scalar, 0 if a dimension is 0)
  std::uint64_t data_begin = 0;     ///< data_offsets[0], relative to the data buffer
  std::uint64_t data_end = 0;       ///< data_offsets[1], one past the last byte

  std::uint64_t byte_size() const { return data_end - data_begin; }
};

/// A memory-mapped, validated safetensors file. Movable, not copyable; the
/// mapping (and every ByteView into it) lives as long as the object.
///
/// The mapping is shared with the file: if another process truncates the
/// file while it is open, touching the lost pages raises SIGBUS. Checkpoints
/// are written by rename (see write_safetensors), which never does that.
class SafetensorsFile {
 public:
  /// Largest header accepted, in bytes (the reference implementation's cap).
  static constexpr std::uint64_t kMaxHeaderSize = 100'000'000;

  /// Map `path` read-only and validate it completely. Throws SafetensorsError.
  [[nodiscard]] static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }

  /// Every tensor, in data-buffer order (increasing data_offsets).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;

  /// The tensor called `name`; throws SafetensorsError naming the file if absent.
  const TensorInfo& at(std::string_view name) const;

  /// The header's "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The bytes of a tensor. `info` is checked against this file's data buffer,
  /// so a TensorInfo from another file cannot read out of bounds (it throws).
  ByteView data(const TensorInfo& info) const;

  /// Header length N (without the 8-byte prefix); the data buffer starts at 8 + N.
  std::uint64_t header_size() const { return header_size_; }
  /// Size of the whole file in bytes.
  std::uint64_t file_size() const { return map_size_; }

 private:
  SafetensorsFile() = default;
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::byte* map_ = nullptr;  // whole file, PROT_READ
  std::size_t map_size_ = 0;
  std::uint64_t header_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> by_name_;  // name -> index in tensors_
  std::map<std::string, std::string> metadata_;
};

// ---------------------------------------------------------------------------
// Writing

/// A tensor to write: its bytes are read from `data` (little-endian,
/// row-major) while writing and must stay valid until the call returns.
struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;  ///< empty = scalar
  const void* data = nullptr;       ///< may be null only when byte_size is 0
  std::size_t byte_size = 0;        ///< must equal product(shape) * dtype_size(dtype)
};

/// Write one safetensors file the way the reference writer lays it out:
/// "__metadata__" first (omitted when empty; its keys sorted), then the
/// tensors ordered by decreasing dtype alignment, then by name; compact JSON
/// with each entry's keys in the order dtype, shape, data_offsets; the header
/// padded with spaces to a multiple of 8 bytes, so every tensor is aligned to
/// its element size.
///
/// Atomic: streams into a temporary file in the same directory, fsyncs it and
/// renames it over `path`, so a reader sees the old file or the new one and a
/// failure leaves neither a partial file nor a temporary behind. Arguments are
/// validated before anything is created: sizes, non-negative shapes, unique
/// names, "__metadata__" reserved, UTF-8 strings. Throws SafetensorsError.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// The exact bytes write_safetensors puts before the data buffer (length
/// prefix + padded header); exposed for tests and for writers of other sinks.
std::string safetensors_header(const std::vector<TensorToWrite>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// ---------------------------------------------------------------------------
// Sharded checkpoints (a Hugging Face model directory)

/// File names used by transformers' save_pretrained.
inline constexpr const char* kSingleWeightsFile = "model.safetensors";
inline constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";

/// The weights of a model directory: `model.safetensors`, or the shards named
/// by `model.safetensors.index.json`
///   {"metadata": {"total_size": ...}, "weight_map": {"tensor": "model-00001-of-00002.safetensors"}}
/// each opened (mapped) once. Movable, not copyable.
class ModelWeights {
 public:
  /// A tensor and the file that holds it; valid while the ModelWeights lives.
  struct Ref {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* info = nullptr;
    ByteView data() const { return file->data(*info); }
  };

  /// Open `dir`. When both files exist, `model.safetensors` wins (as in
  /// transformers). With an index, the weights are the tensors of the shards
  /// it names; throws SafetensorsError for: a shard file that is missing or
  /// invalid, a shard name that is not a plain file name inside `dir` (empty,
  /// containing '/', '\\' or ".."), a weight_map entry whose tensor is not in
  /// that shard, a tensor name found in two shards, an index that is not
  /// {"weight_map": {string: string}, "metadata": {...}?} (duplicate keys
  /// included). Symbolic links are followed (the Hugging Face cache uses them).
  [[nodiscard]] static ModelWeights open(const std::filesystem::path& dir);

  ModelWeights(ModelWeights&&) noexcept = default;
  ModelWeights& operator=(ModelWeights&&) noexcept = default;
  ModelWeights(const ModelWeights&) = delete;
  ModelWeights& operator=(const ModelWeights&) = delete;
  ~ModelWeights() = default;

  /// The tensor called `name`, or nullopt.
  std::optional<Ref> find(std::string_view name) const;
  /// The tensor called `name`; throws SafetensorsError naming the directory if absent.
  Ref at(std::string_view name) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  std::size_t size() const { return locations_.size(); }

  /// The opened files: one, or each shard once (in sorted file-name order).
  const std::vector<SafetensorsFile>& files() const { return files_; }
  /// The index's "metadata" object (null for a single file or when absent).
  const nlohmann::json& index_metadata() const { return index_metadata_; }
  const std::filesystem::path& directory() const { return dir_; }

 private:
  ModelWeights() = default;
  struct Location {
    std::size_t file = 0;    // index in files_
    std::size_t tensor = 0;  // index in files_[file].tensors()
  };

  std::filesystem::path dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Location, std::less<>> locations_;
  nlohmann::json index_metadata_;
};

/// Write `tensors` into `dir` as transformers' save_pretrained does
/// (huggingface_hub's split_state_dict_into_shards): shards are filled in the
/// given order, a new one started when the next tensor would push the current
/// one past `max_shard_bytes` (tensor bytes only, headers not counted); a
/// tensor larger than that gets a shard of its own. One shard is written as
/// `model.safetensors`, several as `model-00001-of-0000N.safetensors` plus
/// `model.safetensors.index.json` ({"metadata": {"total_size": bytes},
/// "weight_map": {...}}, keys sorted, indent 2, trailing newline).
///
/// Each file is written atomically (write_safetensors), the index last; weight
/// files of an earlier save that the new set does not use (model.safetensors,
/// model-*-of-*.safetensors, the index) are removed afterwards. The set as a
/// whole is not atomic: a failure part-way can leave new shards beside the old
/// index. `metadata` goes into every file's "__metadata__"; transformers
/// refuses files without {"format": "pt"}. Creates `dir` if needed. Throws
/// SafetensorsError; invalid tensors (duplicate names included) are refused
/// before any file is written.
void write_sharded(const std::filesystem::path& dir, const std::vector<TensorToWrite>& tensors,
                   std::uint64_t max_shard_bytes,
                   const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace genius::llama
