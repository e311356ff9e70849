// The architecture of a Hugging Face decoder model, read from config.json.
//
// Supported model_type values: "llama" (Llama 2/3/3.1/3.2), "qwen2" (Qwen2,
// Qwen2.5: biases on q/k/v) and "mistral" (Llama layout; sliding windows
// are not used at the lengths this project generates).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::llama {

/// Llama 3.1 "llama3" rope scaling (frequency-dependent interpolation).
struct RopeScaling {
  std::string type;  ///< "llama3" (the only type supported), or "" for none
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  std::int64_t original_max_position_embeddings = 8192;
};

/// The largest size any dimension of config.json may have (vocab, hidden,
/// layers, heads, positions): 2^24, far above any released model, so that a
/// damaged number is refused before anything is allocated from it.
inline constexpr std::int64_t kMaxDimension = std::int64_t{1} << 24;

struct ModelConfig {
  std::string model_type = "llama";
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;
  std::int64_t head_dim = 0;  ///< hidden_size / num_attention_heads unless given
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  std::int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  ///< q/k/v (and o for llama's attention_bias) biases
  bool o_proj_bias = false;
  bool mlp_bias = false;
  std::vector<std::int64_t> eos_token_ids;  ///< from config.json, merged with generation_config.json
  std::optional<std::int64_t> bos_token_id;
  std::string torch_dtype = "float32";
  nlohmann::json raw;  ///< the whole file, so save() writes unknown keys back unchanged

  /// Parse and check `dir/config.json` (and `dir/generation_config.json` for
  /// eos ids when present). Errors name the file and the key.
  static ModelConfig load(const std::filesystem::path& dir);
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  /// The number of parameters the architecture has (embeddings, layers, norms,
  /// the output head unless tied), saturating at the largest uint64.
  std::uint64_t parameter_count() const;
  /// Throws std::runtime_error naming `source` when the parameters would need
  /// more than the machine's physical memory at `bytes_per_parameter`.
  void check_fits_in_memory(const std::string& source, std::uint64_t bytes_per_parameter = 4) const;
  /// config.json content for this architecture (raw keys preserved).
  nlohmann::json to_json() const;
};

}  // namespace genius::llama
