#include "model_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <genius/helpers/json_text.hpp>

namespace genius::llama {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw std::runtime_error(source + ": " + message);
}

template <class T>
T get(const nlohmann::json& j, const std::string& source, const char* key) {
  if (!j.contains(key) || j[key].is_null()) fail(source, std::string("missing key '") + key + "'");
  // JSON would convert 2.5 to 2 and true to 1: an integer key takes an integer.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!j[key].is_number_integer())
      fail(source, std::string("key '") + key + "' must be an integer, got " + excerpt(j[key].dump(), 60));
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(source, std::string("key '") + key + "' has the wrong type (" + excerpt(j[key].dump(), 60) + ")");
  }
}

template <class T>
T get_or(const nlohmann::json& j, const std::string& source, const char* key, T fallback) {
  return j.contains(key) && !j[key].is_null() ? get<T>(j, source, key) : fallback;
}

// A token id, or a list of them (eos_token_id); null = none.
std::vector<std::int64_t> ids(const nlohmann::json& v, const std::string& source, const char* key) {
  auto id = [&](const nlohmann::json& x, const std::string& what) {
    if (!x.is_number_integer() || x.get<std::int64_t>() < 0)
      fail(source, what + " must be a token id (a non-negative integer), got " + excerpt(x.dump(), 60));
    return x.get<std::int64_t>();
  };
  if (v.is_null()) return {};
  if (!v.is_array()) return {id(v, std::string("key '") + key + "'")};
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(id(v[i], std::string("key '") + key + "' element " + std::to_string(i)));
  return out;
}

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), "cannot open");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (const std::string deep = json_depth_problem(text); !deep.empty()) fail(file.string(), "invalid JSON: " + deep);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(file.string(), std::string("invalid JSON: ") + json_error_text(e));
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
    if (value <= 0 || value > kMaxDimension)
      fail(source,
           std::string(name) + " must be in [1, " + std::to_string(kMaxDimension) + "], got " + std::to_string(value));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(source, "num_attention_heads (" + std::to_string(c.num_attention_heads) +
                     ") is not a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
  const bool head_dim_given = j.contains("head_dim") && !j["head_dim"].is_null();
  if (!head_dim_given && c.hidden_size % c.num_attention_heads != 0)
    fail(source, "hidden_size is not a multiple of num_attention_heads");
  c.head_dim = head_dim_given ? get<std::int64_t>(j, source, "head_dim") : c.hidden_size / c.num_attention_heads;
  if (c.head_dim <= 0 || c.head_dim > kMaxDimension || c.head_dim % 2 != 0)
    fail(source, "head_dim must be a positive even number");
  c.rms_norm_eps = get_or<double>(j, source, "rms_norm_eps", 1e-6);
  c.rope_theta = get_or<double>(j, source, "rope_theta", 10000.0);
  c.max_position_embeddings = get_or<std::int64_t>(j, source, "max_position_embeddings", 2048);
  if (c.max_position_embeddings <= 0 || c.max_position_embeddings > kMaxDimension)
    fail(source, "max_position_embeddings must be in [1, " + std::to_string(kMaxDimension) + "], got " +
                     std::to_string(c.max_position_embeddings));
  if (!(c.rms_norm_eps > 0) || !(c.rope_theta > 0))
    fail(source, "rms_norm_eps and rope_theta must be positive numbers");
  c.tie_word_embeddings = get_or<bool>(j, source, "tie_word_embeddings", false);
  c.mlp_bias = get_or<bool>(j, source, "mlp_bias", false);
  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
  } else {
    c.attention_bias = c.o_proj_bias = get_or<bool>(j, source, "attention_bias", false);
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& rs = j["rope_scaling"];
    const std::string in_rs = source + ": rope_scaling";  // its keys are named under it
    if (!rs.is_object()) fail(source, "key 'rope_scaling' must be an object or null");
    const std::string type = rs.contains("rope_type") ? get<std::string>(rs, in_rs, "rope_type")
                                                      : get_or<std::string>(rs, in_rs, "type", "");
    if (type != "llama3" && type != "default")
      fail(source, "rope_scaling type '" + type + "' is not supported (llama3)");
    if (type == "llama3") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get<double>(rs, in_rs, "factor");
      c.rope_scaling.low_freq_factor = get<double>(rs, in_rs, "low_freq_factor");
      c.rope_scaling.high_freq_factor = get<double>(rs, in_rs, "high_freq_factor");
      c.rope_scaling.original_max_position_embeddings =
          get<std::int64_t>(rs, in_rs, "original_max_position_embeddings");
    }
  }
  if (j.contains("eos_token_id")) c.eos_token_ids = ids(j["eos_token_id"], source, "eos_token_id");
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
    if (!g.is_object()) fail(generation.string(), "expected a JSON object");
    if (g.contains("eos_token_id"))
      for (auto id : ids(g["eos_token_id"], generation.string(), "eos_token_id"))
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

namespace genius::llama {

namespace {
// a * b + c without overflow (saturating).
std::uint64_t mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) {
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  if (a != 0 && b > (max - c) / a) return max;
  return a * b + c;
}
}  // namespace

std::uint64_t ModelConfig::parameter_count() const {
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0)); };
  const std::uint64_t hidden = u(hidden_size), q = mul_add(u(num_attention_heads), u(head_dim)),
                      kv = mul_add(u(num_key_value_heads), u(head_dim));
  std::uint64_t layer = mul_add(hidden, q);                          // q_proj
  layer = mul_add(hidden, kv, layer);                                // k_proj
  layer = mul_add(hidden, kv, layer);                                // v_proj
  layer = mul_add(q, hidden, layer);                                 // o_proj
  layer = mul_add(mul_add(hidden, u(intermediate_size)), 3, layer);  // gate, up, down
  layer = mul_add(hidden, 2, layer);                                 // two norms
  const std::uint64_t embeddings = mul_add(u(vocab_size), hidden);
  std::uint64_t total = mul_add(layer, u(num_hidden_layers), embeddings);
  if (!tie_word_embeddings) total = mul_add(embeddings, 1, total);
  return mul_add(hidden, 1, total);  // final norm
}

void ModelConfig::check_fits_in_memory(const std::string& source, std::uint64_t bytes_per_parameter) const {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return;
  const std::uint64_t memory = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
  const std::uint64_t params = parameter_count(), need = mul_add(params, bytes_per_parameter);
  if (need <= memory) return;
  auto gib = [](std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    return std::string(buf);
  };
  fail(source, "the architecture has " + std::to_string(params) + " parameters (" + gib(need) +
                   " GiB), more than this machine's memory (" + gib(memory) + " GiB); check vocab_size, " +
                   "hidden_size, intermediate_size and num_hidden_layers");
}

}  // namespace genius::llama
