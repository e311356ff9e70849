#include "model_config.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace genius::llama {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw std::runtime_error(source + ": " + message);
}

template <class T>
T get(const nlohmann::json& j, const std::string& source, const char* key) {
  if (!j.contains(key) || j[key].is_null()) fail(source, std::string("missing key '") + key + "'");
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(source, std::string("key '") + key + "' has the wrong type (" + j[key].dump() + ")");
  }
}

template <class T>
T get_or(const nlohmann::json& j, const std::string& source, const char* key, T fallback) {
  return j.contains(key) && !j[key].is_null() ? get<T>(j, source, key) : fallback;
}

std::vector<std::int64_t> ids(const nlohmann::json& v) {
  if (v.is_number_integer()) return {v.get<std::int64_t>()};
  if (v.is_array()) return v.get<std::vector<std::int64_t>>();
  return {};
}

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail(file.string(), "cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(file.string(), std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "expected a JSON object");
  ModelConfig c;
  c.raw = j;
  c.model_type = get<std::string>(j, source, "model_type");
  if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "mistral")
    fail(source, "model_type '" + c.model_type + "' is not supported (llama, qwen2, mistral)");
  c.vocab_size = get<std::int64_t>(j, source, "vocab_size");
  c.hidden_size = get<std::int64_t>(j, source, "hidden_size");
  c.intermediate_size = get<std::int64_t>(j, source, "intermediate_size");
  c.num_hidden_layers = get<std::int64_t>(j, source, "num_hidden_layers");
  c.num_attention_heads = get<std::int64_t>(j, source, "num_attention_heads");
  c.num_key_value_heads = get_or<std::int64_t>(j, source, "num_key_value_heads", c.num_attention_heads);
  for (auto [name, value] : {std::pair{"vocab_size", c.vocab_size},
                             {"hidden_size", c.hidden_size},
                             {"intermediate_size", c.intermediate_size},
                             {"num_hidden_layers", c.num_hidden_layers},
                             {"num_attention_heads", c.num_attention_heads},
                             {"num_key_value_heads", c.num_key_value_heads}})
    if (value <= 0) fail(source, std::string(name) + " must be positive, got " + std::to_string(value));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(source, "num_attention_heads (" + std::to_string(c.num_attention_heads) +
                     ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
  const bool head_dim_given = j.contains("head_dim") && !j["head_dim"].is_null();
  if (!head_dim_given && c.hidden_size % c.num_attention_heads != 0)
    fail(source, "hidden_size is not a multiple of num_attention_heads");
  c.head_dim = head_dim_given ? get<std::int64_t>(j, source, "head_dim") : c.hidden_size / c.num_attention_heads;
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail(source, "head_dim must be a positive even number");
  c.rms_norm_eps = get_or<double>(j, source, "rms_norm_eps", 1e-6);
  c.rope_theta = get_or<double>(j, source, "rope_theta", 10000.0);
  c.max_position_embeddings = get_or<std::int64_t>(j, source, "max_position_embeddings", 2048);
  c.tie_word_embeddings = get_or<bool>(j, source, "tie_word_embeddings", false);
  c.mlp_bias = get_or<bool>(j, source, "mlp_bias", false);
  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
  } else {
    c.attention_bias = c.o_proj_bias = get_or<bool>(j, source, "attention_bias", false);
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& rs = j["rope_scaling"];
    const std::string type =
        rs.contains("rope_type") ? rs["rope_type"].get<std::string>() : get_or<std::string>(rs, source, "type", "");
    if (type != "llama3" && type != "default")
      fail(source, "rope_scaling type '" + type + "' is not supported (llama3)");
    if (type == "llama3") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get<double>(rs, source, "factor");
      c.rope_scaling.low_freq_factor = get<double>(rs, source, "low_freq_factor");
      c.rope_scaling.high_freq_factor = get<double>(rs, source, "high_freq_factor");
      c.rope_scaling.original_max_position_embeddings =
          get<std::int64_t>(rs, source, "original_max_position_embeddings");
    }
  }
  if (j.contains("eos_token_id")) c.eos_token_ids = ids(j["eos_token_id"]);
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"].get<std::int64_t>();
  if (const auto act = get_or<std::string>(j, source, "hidden_act", "silu"); act != "silu")
    fail(source, "hidden_act '" + act + "' is not supported (silu)");
  c.torch_dtype = get_or<std::string>(j, source, "torch_dtype", "float32");
  return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path& dir) {
  const auto file = dir / "config.json";
  ModelConfig c = from_json(read_json(file), file.string());
  const auto generation = dir / "generation_config.json";
  if (std::filesystem::exists(generation)) {
    const nlohmann::json g = read_json(generation);
    if (g.contains("eos_token_id"))
      for (auto id : ids(g["eos_token_id"]))
        if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) == c.eos_token_ids.end())
          c.eos_token_ids.push_back(id);
  }
  return c;
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = raw.is_object() ? raw : nlohmann::json::object();
  j["model_type"] = model_type;
  j["architectures"] = {model_type == "qwen2"     ? "Qwen2ForCausalLM"
                        : model_type == "mistral" ? "MistralForCausalLM"
                                                  : "LlamaForCausalLM"};
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  if (head_dim != hidden_size / num_attention_heads || j.contains("head_dim")) j["head_dim"] = head_dim;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["max_position_embeddings"] = max_position_embeddings;
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (model_type != "qwen2") j["attention_bias"] = attention_bias;
  j["mlp_bias"] = mlp_bias;
  j["hidden_act"] = "silu";
  j["torch_dtype"] = torch_dtype;
  if (!rope_scaling.type.empty())
    j["rope_scaling"] = {{"rope_type", rope_scaling.type},
                         {"factor", rope_scaling.factor},
                         {"low_freq_factor", rope_scaling.low_freq_factor},
                         {"high_freq_factor", rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", rope_scaling.original_max_position_embeddings}};
  if (bos_token_id && !j.contains("bos_token_id")) j["bos_token_id"] = *bos_token_id;
  if (!eos_token_ids.empty() && !j.contains("eos_token_id"))
    j["eos_token_id"] = eos_token_ids.size() == 1 ? nlohmann::json(eos_token_ids[0]) : nlohmann::json(eos_token_ids);
  return j;
}

}  // namespace genius::llama
