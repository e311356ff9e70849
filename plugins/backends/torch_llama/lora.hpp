// LoRA adapters on the decoder's linear layers, stored as PEFT stores them,
// so transformers + peft users load our checkpoints and we load theirs:
//
//   adapter_config.json        {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": [...], ...}
//   adapter_model.safetensors  base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight   [r, in]
//                              base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight   [out, r]
//
// A target layer y = W x becomes y = W x + scale * B (A dropout(x)), scale =
// lora_alpha / r (lora_alpha / sqrt(r) with use_rslora). A starts as
// nn.Linear's Kaiming-uniform (PEFT's default), B as zeros.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <genius/types.hpp>

namespace genius::llama {

class CausalLmImpl;

/// The linear layers of a decoder layer, by PEFT's names.
enum class LoraTarget : int { q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj };
inline constexpr int kLoraTargets = 7;
const char* lora_target_name(LoraTarget t);

class LoraAdapters {
 public:
  /// Fresh adapters on `model`'s target layers, on its device and dtype.
  /// Throws std::invalid_argument for rank < 1 or an unknown module name.
  LoraAdapters(const CausalLmImpl& model, const LoraOptions& options);

  /// The adapters of a PEFT directory, for `model`: validated against its
  /// layers (names, shapes); throws std::runtime_error naming the file.
  static LoraAdapters load(const CausalLmImpl& model, const std::filesystem::path& dir);
  /// Copy `dir`'s adapters into these tensors in place (an optimizer keeps
  /// them); its config must match (rank, alpha, targets).
  void load_values(const CausalLmImpl& model, const std::filesystem::path& dir);
  /// Write adapter_config.json and adapter_model.safetensors into `dir`.
  void save(const std::filesystem::path& dir, const std::string& base_model) const;

  /// y + scale * B A dropout(x) for `target` of layer `layer`; y when that
  /// layer has no adapter there.
  at::Tensor apply(std::size_t layer, LoraTarget target, const at::Tensor& x, const at::Tensor& y, bool training) const;
  bool has(std::size_t layer, LoraTarget target) const;
  /// The trainable tensors: A and B of every adapter, in PEFT name order.
  std::vector<at::Tensor> parameters() const;
  /// The adapters of one layer (for activation checkpointing).
  std::vector<at::Tensor> layer_parameters(std::size_t layer) const;
  /// Detached copies (no gradients): a frozen model's adapters.
  LoraAdapters frozen_clone() const;
  /// W + scale * B A for `target` of `layer` (W unchanged when no adapter).
  at::Tensor merged_weight(std::size_t layer, LoraTarget target, const at::Tensor& weight) const;

  const LoraOptions& options() const { return options_; }
  double scale() const { return scale_; }
  /// PEFT's tensor names and the tensors.
  std::vector<std::pair<std::string, at::Tensor>> named_tensors() const;

 private:
  LoraAdapters() = default;
  struct Pair {
    at::Tensor a, b;  ///< [r, in], [out, r]; undefined when the layer is not a target
  };
  LoraOptions options_;
  double scale_ = 1.0;
  bool rslora_ = false;
  std::vector<std::array<Pair, kLoraTargets>> layers_;
};

/// PEFT's tensor name of an adapter matrix: "base_model.model.model.layers.3.mlp.up_proj.lora_B.weight".
std::string lora_tensor_name(std::size_t layer, LoraTarget target, char matrix);

}  // namespace genius::llama
