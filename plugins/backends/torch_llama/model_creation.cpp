#include "model_creation.hpp"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <genius/error.hpp>
#include <genius/helpers/atomic_file.hpp>

#include "chat_template.hpp"
#include "llama_model.hpp"
#include "model_config.hpp"
#include "tokenizer.hpp"
#include "weights_io.hpp"

namespace genius::llama {
namespace fs = std::filesystem;

void add_model_keys(PluginManifest& m) {
  m.model_creation()
      .choice("arch", "llama", {"llama", "qwen2"}, "architecture (config.json model_type)")
      .key("hidden_size", 128, "hidden size", at_least(1))
      .flag("hidden")
      .key("num_hidden_layers", 4, "decoder layers", at_least(1))
      .flag("layers")
      .key("num_attention_heads", 4, "attention heads", at_least(1))
      .flag("heads")
      .key("num_key_value_heads", 0, "key/value heads; 0 = num_attention_heads", at_least(0))
      .flag("kv-heads")
      .key("intermediate_size", 0, "MLP width; 0 = 8/3 hidden_size rounded up to 32", at_least(0))
      .flag("intermediate")
      .key("max_position_embeddings", 2048, "longest sequence the model is made for", at_least(1))
      .flag("max-positions")
      .key("rope_theta", 10000.0, "rotary base", at_least(0.0, false))
      .key("tie_word_embeddings", true, "share the embedding and output matrices")
      .flag("untied")
      .key("vocab", "bytes",
           "bytes (256 byte tokens + <|endoftext|> <|im_start|> <|im_end|>) or the path of a tokenizer.json to copy")
      .choice("chat_template", "plain", {"plain", "chatml"}, "chat template of the byte vocabulary");
}

namespace {

struct Vocabulary {
  std::int64_t size = 0;
  std::optional<std::int64_t> bos, eos;
};

// The tokenizer files of the new model, with its chat template.
Vocabulary write_tokenizer(const ConfigView& keys, const fs::path& out) {
  Vocabulary v;
  const std::string vocab = keys.get<std::string>("vocab");
  if (vocab == "bytes") {
    const ChatFamily family = *parse_chat_family(keys.get<std::string>("chat_template"));
    Tokenizer tok = Tokenizer::byte_level({"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "",
                                          family == ChatFamily::ChatML ? "<|im_end|>" : "<|endoftext|>");
    tok.save(out);
    nlohmann::json config = nlohmann::json::parse(genius::read_file(out / "tokenizer_config.json"));
    config["chat_template"] = jinja_chat_template(family);
    genius::write_file_atomic(out / "tokenizer_config.json", config.dump(2) + "\n");
    v.size = tok.vocab_size();
    if (auto id = tok.eos_id()) v.eos = *id;
    return v;
  }
  const fs::path file = vocab, dir = file.parent_path();
  const fs::path tokenizer_config =
      fs::exists(dir / "tokenizer_config.json") ? dir / "tokenizer_config.json" : fs::path();
  const Tokenizer tok = Tokenizer::from_file(file, tokenizer_config);
  fs::copy_file(file, out / "tokenizer.json", fs::copy_options::overwrite_existing);
  if (!tokenizer_config.empty())
    fs::copy_file(tokenizer_config, out / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  v.size = tok.vocab_size();
  if (auto id = tok.bos_id()) v.bos = *id;
  if (auto id = tok.eos_id()) v.eos = *id;
  return v;
}

nlohmann::json model_config(const ConfigView& keys, const Vocabulary& vocab) {
  const auto hidden = keys.get<std::int64_t>("hidden_size");
  const auto heads = keys.get<std::int64_t>("num_attention_heads");
  const auto kv_heads = keys.get<std::int64_t>("num_key_value_heads");
  const auto intermediate = keys.get<std::int64_t>("intermediate_size");
  nlohmann::json config = {
      {"model_type", keys.get<std::string>("arch")},
      {"vocab_size", vocab.size},
      {"hidden_size", hidden},
      {"intermediate_size", intermediate > 0 ? intermediate : (hidden * 8 / 3 + 31) / 32 * 32},
      {"num_hidden_layers", keys.get<std::int64_t>("num_hidden_layers")},
      {"num_attention_heads", heads},
      {"num_key_value_heads", kv_heads > 0 ? kv_heads : heads},
      {"max_position_embeddings", keys.get<std::int64_t>("max_position_embeddings")},
      {"rope_theta", keys.get<double>("rope_theta")},
      {"rms_norm_eps", 1e-6},
      {"hidden_act", "silu"},
      {"initializer_range", 0.02},
      {"tie_word_embeddings", keys.get<bool>("tie_word_embeddings")},
      {"torch_dtype", "float32"},
  };
  if (vocab.bos) config["bos_token_id"] = *vocab.bos;
  if (vocab.eos) config["eos_token_id"] = *vocab.eos;
  return config;
}

}  // namespace

void create_model(const ConfigView& keys, std::uint64_t seed, const fs::path& out, const std::string& plugin) {
  try {
    fs::create_directories(out);
    const Vocabulary vocab = write_tokenizer(keys, out);
    genius::write_file_atomic(out / "config.json", model_config(keys, vocab).dump(2) + "\n");
    // The weights, and config.json as the backend writes it when it saves.
    ModelConfig config = ModelConfig::load(out);
    config.check_fits_in_memory((out / "config.json").string());
    CausalLm model(config);
    init_weights(model, config.raw.value("initializer_range", 0.02), seed);
    config.torch_dtype = "float32";
    genius::write_file_atomic(out / "config.json", config.to_json().dump(2) + "\n");
    save_weights(model, out, 5'000'000'000ULL);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(plugin, e.what());
  }
}

}  // namespace genius::llama
