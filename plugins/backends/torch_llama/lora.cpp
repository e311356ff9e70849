#include "lora.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <genius/helpers/atomic_file.hpp>

#include "llama_model.hpp"
#include "safetensors.hpp"
#include "weights_io.hpp"

namespace genius::llama {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

std::optional<LoraTarget> target_named(const std::string& name) {
  for (int t = 0; t < kLoraTargets; ++t)
    if (name == lora_target_name(static_cast<LoraTarget>(t))) return static_cast<LoraTarget>(t);
  return std::nullopt;
}

// The base layer a target names: its weight [out, in].
const at::Tensor& base_weight(const CausalLmImpl& model, std::size_t layer, LoraTarget t) {
  const auto& l = *model.model->layers->ptr(layer)->as<DecoderLayerImpl>();
  switch (t) {
    case LoraTarget::q_proj:
      return l.self_attn->q_proj->weight;
    case LoraTarget::k_proj:
      return l.self_attn->k_proj->weight;
    case LoraTarget::v_proj:
      return l.self_attn->v_proj->weight;
    case LoraTarget::o_proj:
      return l.self_attn->o_proj->weight;
    case LoraTarget::gate_proj:
      return l.mlp->gate_proj->weight;
    case LoraTarget::up_proj:
      return l.mlp->up_proj->weight;
    case LoraTarget::down_proj:
      return l.mlp->down_proj->weight;
  }
  throw std::logic_error("unknown LoRA target");
}

double scale_of(const LoraOptions& o, bool rslora) {
  return rslora ? o.alpha / std::sqrt(double(o.rank)) : o.alpha / double(o.rank);
}

// adapter_config.json as PEFT's LoraConfig reads it; what we cannot run is refused.
LoraOptions read_config(const fs::path& dir, bool& rslora) {
  const fs::path file = dir / kConfigFile;
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read '" + file.string() + "'");
  const json c = json::parse(in, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) { return std::runtime_error(file.string() + ": " + what); };
  if (!c.is_object()) throw bad("not a JSON object");
  if (c.value("peft_type", std::string("LORA")) != "LORA")
    throw bad("peft_type is '" + c.value("peft_type", std::string()) + "', not LORA");
  LoraOptions o;
  if (!c.contains("r") || !c["r"].is_number_integer() || c["r"].get<int>() < 1)
    throw bad("'r' must be an integer >= 1");
  o.rank = c["r"].get<int>();
  o.alpha = c.value("lora_alpha", double(o.rank));
  o.dropout = c.value("lora_dropout", 0.0);
  rslora = c.value("use_rslora", false);
  if (c.value("use_dora", false)) throw bad("DoRA adapters (use_dora) are not supported");
  if (c.value("fan_in_fan_out", false)) throw bad("fan_in_fan_out adapters (GPT-2 Conv1D layers) are not supported");
  if (c.value("bias", std::string("none")) != "none") throw bad("bias '" + c["bias"].dump() + "' is not supported");
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (c.contains(key) && !c[key].is_null() && !c[key].empty())
      throw bad(std::string(key) + " (per-layer ranks or alphas) is not supported");
  if (c.contains("layers_to_transform") && !c["layers_to_transform"].is_null())
    throw bad("layers_to_transform is not supported");
  const json& targets = c.contains("target_modules") ? c["target_modules"] : json();
  if (!targets.is_array())
    throw bad("target_modules must be a list of module names (a regular expression is not supported)");
  for (const json& t : targets) {
    if (!t.is_string() || !target_named(t.get<std::string>()))
      throw bad("target_modules: '" + (t.is_string() ? t.get<std::string>() : t.dump()) +
                "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    o.target_modules.push_back(t.get<std::string>());
  }
  if (o.target_modules.empty()) throw bad("target_modules is empty");
  return o;
}

}  // namespace

const char* lora_target_name(LoraTarget t) {
  static const char* names[kLoraTargets] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                            "gate_proj", "up_proj", "down_proj"};
  return names[static_cast<int>(t)];
}

std::string lora_tensor_name(std::size_t layer, LoraTarget target, char matrix) {
  const bool attention = static_cast<int>(target) <= static_cast<int>(LoraTarget::o_proj);
  return "base_model.model.model.layers." + std::to_string(layer) + (attention ? ".self_attn." : ".mlp.") +
         lora_target_name(target) + ".lora_" + matrix + ".weight";
}

LoraAdapters::LoraAdapters(const CausalLmImpl& model, const LoraOptions& options) : options_(options) {
  if (options.rank < 1) throw std::invalid_argument("LoRA rank must be at least 1");
  if (options.target_modules.empty()) throw std::invalid_argument("LoRA needs at least one target module");
  scale_ = scale_of(options_, rslora_);
  std::array<bool, kLoraTargets> wanted{};
  for (const std::string& name : options.target_modules) {
    const auto t = target_named(name);
    if (!t) throw std::invalid_argument("unknown LoRA target module '" + name + "'");
    wanted[static_cast<std::size_t>(*t)] = true;
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  torch::NoGradGuard no_grad;
  const std::size_t layers = model.model->layers->size();
  layers_.resize(layers);
  for (std::size_t i = 0; i < layers; ++i)
    for (int t = 0; t < kLoraTargets; ++t) {
      if (!wanted[static_cast<std::size_t>(t)]) continue;
      const at::Tensor& w = base_weight(model, i, static_cast<LoraTarget>(t));
      const auto out = w.size(0), in = w.size(1);
      // nn.Linear's default (kaiming_uniform_ with a = sqrt(5)): U(-1/sqrt(in), 1/sqrt(in)).
      const double bound = 1.0 / std::sqrt(double(in));
      at::Tensor a = at::empty({options.rank, in}, at::kFloat).uniform_(-bound, bound, generator);
      Pair& p = layers_[i][static_cast<std::size_t>(t)];
      p.a = a.to(w.options()).set_requires_grad(true);
      p.b = at::zeros({out, options.rank}, w.options()).set_requires_grad(true);
    }
}

bool LoraAdapters::has(std::size_t layer, LoraTarget target) const {
  return layer < layers_.size() && layers_[layer][static_cast<std::size_t>(target)].a.defined();
}

at::Tensor LoraAdapters::apply(std::size_t layer, LoraTarget target, const at::Tensor& x, const at::Tensor& y,
                               bool training) const {
  if (!has(layer, target)) return y;
  const Pair& p = layers_[layer][static_cast<std::size_t>(target)];
  const at::Tensor in = options_.dropout > 0 && training ? at::dropout(x, options_.dropout, true) : x;
  // y + scale * (in A^T) B^T as one addmm on [tokens, features] views: the
  // only full-size tensor made is the result (no B-product, scaled copy and
  // sum to allocate and free per layer; the autograd graph keeps just the
  // [tokens, r] product).
  const at::Tensor low = at::mm(in.reshape({-1, in.size(-1)}), p.a.t());
  return at::addmm(y.reshape({-1, y.size(-1)}), low, p.b.t(), /*beta=*/1, /*alpha=*/scale_).view(y.sizes());
}

at::Tensor LoraAdapters::merged_weight(std::size_t layer, LoraTarget target, const at::Tensor& weight) const {
  if (!has(layer, target)) return weight;
  const Pair& p = layers_[layer][static_cast<std::size_t>(target)];
  torch::NoGradGuard no_grad;
  return (weight.to(at::kFloat) + at::matmul(p.b.to(at::kFloat), p.a.to(at::kFloat)) * scale_).to(weight.dtype());
}

std::vector<std::pair<std::string, at::Tensor>> LoraAdapters::named_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    for (int t = 0; t < kLoraTargets; ++t) {
      const Pair& p = layers_[i][static_cast<std::size_t>(t)];
      if (!p.a.defined()) continue;
      out.emplace_back(lora_tensor_name(i, static_cast<LoraTarget>(t), 'A'), p.a);
      out.emplace_back(lora_tensor_name(i, static_cast<LoraTarget>(t), 'B'), p.b);
    }
  return out;
}

std::vector<at::Tensor> LoraAdapters::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : named_tensors()) out.push_back(t);
  return out;
}

std::vector<at::Tensor> LoraAdapters::layer_parameters(std::size_t layer) const {
  std::vector<at::Tensor> out;
  if (layer >= layers_.size()) return out;
  for (const Pair& p : layers_[layer])
    if (p.a.defined()) out.push_back(p.a), out.push_back(p.b);
  return out;
}

LoraAdapters LoraAdapters::frozen_clone() const {
  LoraAdapters copy = *this;
  for (auto& layer : copy.layers_)
    for (Pair& p : layer)
      if (p.a.defined()) p.a = p.a.detach().clone(), p.b = p.b.detach().clone();
  return copy;
}

void LoraAdapters::save(const fs::path& dir, const std::string& base_model) const {
  fs::create_directories(dir);
  std::vector<at::Tensor> keep_alive;
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, tensor] : named_tensors()) {
    keep_alive.push_back(tensor.detach().to(at::kCPU).contiguous());
    const at::Tensor& t = keep_alive.back();
    tensors.push_back({name, to_dtype(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
                       static_cast<std::size_t>(t.numel()) * t.element_size()});
  }
  write_safetensors(dir / kWeightsFile, tensors, {{"format", "pt"}});
  const json config = {{"peft_type", "LORA"},
                       {"task_type", "CAUSAL_LM"},
                       {"base_model_name_or_path", base_model},
                       {"r", options_.rank},
                       {"lora_alpha", options_.alpha},
                       {"lora_dropout", options_.dropout},
                       {"target_modules", options_.target_modules},
                       {"bias", "none"},
                       {"fan_in_fan_out", false},
                       {"inference_mode", true},
                       {"init_lora_weights", true},
                       {"use_rslora", rslora_},
                       {"use_dora", false},
                       {"modules_to_save", nullptr},
                       {"layers_to_transform", nullptr},
                       {"layers_pattern", nullptr},
                       {"rank_pattern", json::object()},
                       {"alpha_pattern", json::object()},
                       {"revision", nullptr}};
  write_file_atomic(dir / kConfigFile, config.dump(2) + "\n");
}

LoraAdapters LoraAdapters::load(const CausalLmImpl& model, const fs::path& dir) {
  bool rslora = false;
  LoraOptions options = read_config(dir, rslora);
  LoraAdapters adapters(model, options);
  adapters.rslora_ = rslora;
  adapters.scale_ = scale_of(options, rslora);
  adapters.load_values(model, dir);
  return adapters;
}

void LoraAdapters::load_values(const CausalLmImpl& /*model*/, const fs::path& dir) {
  bool rslora = false;
  const LoraOptions theirs = read_config(dir, rslora);
  std::vector<std::string> mine_targets = options_.target_modules, their_targets = theirs.target_modules;
  std::sort(mine_targets.begin(), mine_targets.end());
  std::sort(their_targets.begin(), their_targets.end());
  if (theirs.rank != options_.rank || mine_targets != their_targets ||
      std::abs(scale_of(theirs, rslora) - scale_) > 1e-12 * std::abs(scale_))
    throw std::runtime_error((dir / kConfigFile).string() + ": r = " + std::to_string(theirs.rank) +
                             ", lora_alpha = " + std::to_string(theirs.alpha) +
                             " and its target_modules differ from the adapters being trained (r = " +
                             std::to_string(options_.rank) + ", lora_alpha = " + std::to_string(options_.alpha) + ")");
  const SafetensorsFile file = SafetensorsFile::open(dir / kWeightsFile);
  torch::NoGradGuard no_grad;
  std::vector<std::string> problems;
  const auto names = named_tensors();
  for (const auto& [name, tensor] : names) {
    const TensorInfo* info = file.find(name);
    if (!info) {
      problems.push_back("missing " + name);
      continue;
    }
    if (at::IntArrayRef(info->shape) != tensor.sizes()) {
      problems.push_back(name + " has shape " + shape_string(info->shape) + ", expected " +
                         shape_string(tensor.sizes()));
      continue;
    }
    const ByteView bytes = file.data(*info);
    const at::Tensor source =
        at::from_blob(const_cast<std::byte*>(bytes.data), info->shape,
                      at::TensorOptions().dtype(to_scalar_type(info->dtype, file.path().string() + ": " + name)));
    at::Tensor target = tensor;
    target.copy_(source);
  }
  if (file.tensors().size() != names.size() && problems.empty())
    problems.push_back(std::to_string(file.tensors().size()) + " tensors where " + std::to_string(names.size()) +
                       " were expected");
  if (problems.empty()) return;
  std::string message = (dir / kWeightsFile).string() + ": the adapters do not fit this model";
  for (std::size_t i = 0; i < problems.size() && i < 5; ++i) message += (i ? "; " : ": ") + problems[i];
  throw std::runtime_error(message);
}

}  // namespace genius::llama
