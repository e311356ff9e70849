// genius/model_backend.hpp — the ModelBackend plugin interface: a language model.
//
// A backend owns a model and its tokenizer (e.g. `torch-llama` reads a Hugging
// Face model directory). Samplers use it to generate; the trainer uses it to
// score (prompt, response) pairs differentiably, to step an optimizer over its
// parameters and to save checkpoints; the reference model is a frozen copy.
//
// Threading: one backend object is used from one thread at a time. Batch
// inside `generate` / `sequence_logprobs` instead of calling from many threads.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include <genius/plugin.hpp>
#include <genius/types.hpp>

namespace genius {

class ModelBackend : public Plugin {
 public:
  ModelBackend() : Plugin(PluginKind::ModelBackend) {}

  // --- tokenizer and chat formatting
  virtual std::vector<TokenId> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<TokenId>& ids) const = 0;
  /// The prompt text for one user message plus the assistant generation
  /// prompt, as the model's chat template renders it.
  virtual std::string format_chat(std::string_view user_message) const = 0;
  /// Token ids that end a response. The first is the tokenizer's own eos
  /// token (the one the trainer appends to responses); the model's
  /// generation_config eos ids follow.
  virtual std::vector<TokenId> eos_token_ids() const = 0;
  /// Number of rows of the model's embedding (>= the tokenizer's ids).
  virtual std::int64_t vocab_size() const = 0;

  // --- inference
  /// Generate for all requests at once (one batch, shared prefills). The
  /// result has one entry per request, in order.
  virtual std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) = 0;
  /// The engine's counters since the backend was made; nullopt when the
  /// backend does not count (the host then knows only calls, prompt tokens
  /// and generated tokens, which it counts itself).
  virtual std::optional<GenerationStats> generation_stats() const { return std::nullopt; }
  /// Drops generation state that carries over between calls (torch-llama's
  /// prefix cache). The host calls it before each chunk of an exploration, so
  /// that a chunk's records depend only on the chunk and the weights: a run
  /// resumed after a kill writes the records an uninterrupted run does.
  virtual void reset_generation_cache() {}

  // --- training
  /// Sum of the response tokens' log-probs for each example: a [B] tensor that
  /// is differentiable w.r.t. parameters() unless the backend is frozen.
  virtual at::Tensor sequence_logprobs(const std::vector<ScoringExample>& batch) = 0;
  /// Log-prob of each response token given everything before it (no gradient).
  virtual std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& batch) = 0;
  virtual std::vector<at::Tensor> parameters() = 0;
  virtual void set_training(bool training) = 0;
  /// A frozen copy of the current weights (no gradients), e.g. the reference model.
  virtual std::unique_ptr<ModelBackend> frozen_copy() const = 0;

  // --- memory-saving training (optional; the defaults refuse)
  /// Train LoRA adapters only, from now on: parameters() becomes the
  /// adapters' A and B (the base weights freeze), frozen_copy() shares the
  /// frozen base instead of copying it, save() writes a PEFT adapter
  /// directory (adapter_config.json, adapter_model.safetensors) and
  /// load_weights() reads one onto the base.
  virtual void add_lora(const LoraOptions& /*options*/) {
    throw PluginError(name(), "this backend has no LoRA adapters (unset [train] lora_rank)");
  }
  /// Fold the LoRA adapters into the base weights (W += scale B A) and drop
  /// them: the model computes the same, and save() writes a full model again.
  virtual void merge_lora() { throw PluginError(name(), "this backend has no LoRA adapters to merge"); }
  /// Recompute each layer's activations in the backward pass instead of
  /// keeping them: less memory for about one more forward pass per step.
  virtual void set_gradient_checkpointing(bool on) {
    if (on) throw PluginError(name(), "this backend has no gradient checkpointing ([train] gradient_checkpointing)");
  }

  // --- persistence: the backend's native format (Hugging Face layout for torch-llama; a PEFT
  // adapter directory once add_lora was called)
  virtual void save(const std::filesystem::path& dir) const = 0;
  virtual void load_weights(const std::filesystem::path& dir) = 0;

  // --- placement
  virtual std::string device() const = 0;  ///< "cpu", "cuda", "cuda:1"
  virtual std::string dtype() const = 0;   ///< "float32", "bfloat16"
};

}  // namespace genius
