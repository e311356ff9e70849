// Sharded checkpoints (a Hugging Face model directory): ModelWeights and
// write_sharded.
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "safetensors_internal.hpp"

namespace genius::llama {

using namespace safetensors_detail;

namespace {

// The index of a sharded checkpoint is a few MB for the largest models.
constexpr std::uint64_t kMaxIndexSize = 100'000'000;

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
