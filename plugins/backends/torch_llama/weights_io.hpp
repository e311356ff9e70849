// Moving a CausalLm's parameters to and from safetensors checkpoints.
#pragma once

#include <filesystem>

#include "llama_model.hpp"
#include "safetensors.hpp"

namespace genius::llama {

/// The torch type of a safetensors float dtype; throws naming `where` for another.
at::ScalarType to_scalar_type(Dtype d, const std::string& where);
/// The safetensors dtype of a float tensor type.
Dtype to_dtype(at::ScalarType t);
/// "[2, 3]"
std::string shape_string(at::IntArrayRef shape);

/// Check config.json's sizes against the checkpoint in `dir` before a model is
/// built from them (a damaged num_hidden_layers or vocab_size would otherwise
/// allocate for it first): the number of layers and the embedding's shape.
/// Throws std::runtime_error naming config.json, the key and both numbers.
void check_architecture(const ModelConfig& config, const std::filesystem::path& dir);

/// Copy every parameter from the checkpoint in `dir` (model.safetensors or a
/// sharded index), converting F32/F16/BF16 to the parameter's dtype. Throws
/// std::runtime_error naming the directory and listing missing tensors,
/// unexpected tensors and shape mismatches.
void load_weights(CausalLm& model, const std::filesystem::path& dir);

/// Write the parameters as safetensors (HF names, the parameters' dtype,
/// shards of at most `max_shard_bytes`), each file atomically.
void save_weights(const CausalLm& model, const std::filesystem::path& dir,
                  std::uint64_t max_shard_bytes = 5'000'000'000ULL);

/// HF's initialisation: Linear and Embedding weights ~ N(0, std), biases 0,
/// norm weights 1.
void init_weights(CausalLm& model, double std, std::uint64_t seed);

}  // namespace genius::llama
