#include "weights_io.hpp"

#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "safetensors.hpp"

namespace genius::llama {

at::ScalarType to_scalar_type(Dtype d, const std::string& where) {
  switch (d) {
    case Dtype::F32:
      return at::kFloat;
    case Dtype::F16:
      return at::kHalf;
    case Dtype::BF16:
      return at::kBFloat16;
    case Dtype::F64:
      return at::kDouble;
    default:
      throw std::runtime_error(where + ": dtype " + std::string(dtype_name(d)) + " is not a float type");
  }
}

Dtype to_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return Dtype::F32;
    case at::kHalf:
      return Dtype::F16;
    case at::kBFloat16:
      return Dtype::BF16;
    case at::kDouble:
      return Dtype::F64;
    default:
      throw std::runtime_error("cannot save tensors of type " + std::string(c10::toString(t)));
  }
}

std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// Tensors a checkpoint may hold that are not parameters here.
bool ignorable(const std::string& name, const ModelConfig& config) {
  return name.find("rotary_emb.inv_freq") != std::string::npos ||
         (config.tie_word_embeddings && name == "lm_head.weight");
}

}  // namespace

void check_architecture(const ModelConfig& config, const std::filesystem::path& dir) {
  const ModelWeights weights = ModelWeights::open(dir);
  const std::string source = (dir / "config.json").string();
  std::set<std::int64_t> layers;
  const std::string prefix = "model.layers.";
  for (const std::string& name : weights.names())
    if (name.rfind(prefix, 0) == 0) {
      const auto dot = name.find('.', prefix.size());
      const std::string index = name.substr(prefix.size(), dot - prefix.size());
      if (!index.empty() && index.size() < 9 && index.find_first_not_of("0123456789") == std::string::npos)
        layers.insert(std::stoll(index));
    }
  if (static_cast<std::int64_t>(layers.size()) != config.num_hidden_layers)
    throw std::runtime_error(source + ": num_hidden_layers is " + std::to_string(config.num_hidden_layers) +
                             ", but the checkpoint holds " + std::to_string(layers.size()) +
                             " layers; config.json and the weights belong to different models");
  if (const auto embed = weights.find("model.embed_tokens.weight")) {
    const std::vector<std::int64_t> want = {config.vocab_size, config.hidden_size};
    if (embed->info->shape != want)
      throw std::runtime_error(source + ": vocab_size x hidden_size is " + shape_string(want) +
                               ", but the checkpoint's model.embed_tokens.weight is " +
                               shape_string(embed->info->shape) +
                               "; config.json and the weights belong to different models");
  }
}

void load_weights(CausalLm& model, const std::filesystem::path& dir) {
  const ModelWeights weights = ModelWeights::open(dir);
  torch::NoGradGuard no_grad;
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const auto ref = weights.find(name);
    if (!ref) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    const TensorInfo& info = *ref->info;
    at::Tensor& param = item.value();
    if (at::IntArrayRef(info.shape) != param.sizes()) {
      mismatched.push_back(name + " " + shape_string(info.shape) + " (expected " + shape_string(param.sizes()) + ")");
      continue;
    }
    const ByteView bytes = ref->data();
    // from_blob does not own the mapping; the copy below reads it before `weights` unmaps.
    const at::Tensor source =
        at::from_blob(const_cast<std::byte*>(bytes.data), info.shape,
                      at::TensorOptions().dtype(to_scalar_type(info.dtype, ref->file->path().string() + ": " + name)));
    param.copy_(source);
  }
  std::vector<std::string> unexpected;
  for (const auto& name : weights.names())
    if (!used.count(name) && !ignorable(name, model->config())) unexpected.push_back(name);
  if (missing.empty() && mismatched.empty() && unexpected.empty()) return;
  std::string message = dir.string() + ": the checkpoint does not fit the architecture in config.json";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    message += std::string("; ") + what + " (" + std::to_string(names.size()) + "): ";
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) message += (i ? ", " : "") + names[i];
    if (names.size() > 5) message += ", ...";
  };
  list("missing", missing);
  list("wrong shape", mismatched);
  list("unexpected", unexpected);
  throw std::runtime_error(message);
}

void save_weights(const CausalLm& model, const std::filesystem::path& dir, std::uint64_t max_shard_bytes) {
  std::vector<at::Tensor> keep_alive;
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, tensor] : model->checkpoint_tensors()) {
    keep_alive.push_back(tensor.detach().to(at::kCPU).contiguous());
    const at::Tensor& t = keep_alive.back();
    tensors.push_back({name, to_dtype(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
                       static_cast<std::size_t>(t.numel()) * t.element_size()});
  }
  write_sharded(dir, tensors, max_shard_bytes);
}

void init_weights(CausalLm& model, double std, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
      p.zero_();
    else if (name.find("norm") != std::string::npos)
      p.fill_(1.0);
    else
      p.normal_(0.0, std);
  }
}

}  // namespace genius::llama
