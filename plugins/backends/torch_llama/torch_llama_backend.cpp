// The `torch-llama` model backend: a Hugging Face model directory (Llama,
// Qwen2, Mistral) run in libtorch.
#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <torch/torch.h>

#include <genius/error.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/model_backend.hpp>
#include <genius/registration.hpp>

#include "chat_template.hpp"
#include "generation.hpp"
#include "llama_model.hpp"
#include "lora.hpp"
#include "model_creation.hpp"
#include "scoring.hpp"
#include "tokenizer.hpp"
#include "weights_io.hpp"

namespace {

namespace fs = std::filesystem;
using genius::PluginError;
using genius::TokenId;
namespace llama = genius::llama;

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  return at::kHalf;  // "float16"; the manifest allows nothing else
}

std::string dtype_name(at::ScalarType t) {
  return t == at::kFloat ? "float32" : t == at::kBFloat16 ? "bfloat16" : "float16";
}

class TorchLlamaBackend final : public genius::ModelBackend {
 public:
  static const genius::PluginManifest& manifest() {
    static const genius::PluginManifest m = [] {
      auto built = genius::PluginManifest(genius::PluginKind::ModelBackend, "torch-llama", "1.1.0",
                                          "Hugging Face Llama / Qwen2 / Mistral models (config.json, safetensors, "
                                          "tokenizer.json) in libtorch, with batched KV-cache generation")
                       .path("path", std::string(""), "model directory in the Hugging Face format")
                       .key("device", "cpu", "torch device: cpu, cuda, cuda:N")
                       .choice("dtype", "float32", {"float32", "bfloat16", "float16"}, "parameter and activation dtype")
                       .choice("chat_template", "auto", {"auto", "llama3", "chatml", "plain"},
                               "prompt layout: recognise tokenizer_config.json's template, or force a family")
                       .key("enable_thinking", true, "Qwen3 templates: false appends the empty <think> block")
                       .key("system_prompt", "",
                            "a system message before every query; \"\" = the template's default (none, or Qwen's)")
                       .key("response_prefix", "",
                            "text every response starts with, after the generation prompt, in exploration, training "
                            "and evaluation alike (the released Genius code: \"The reasoning steps are:\\n\\n\")")
                       .key("max_batch_rows", 0, "most sequences in one forward pass while generating; 0 = no limit",
                            genius::at_least(0))
                       .key("prefix_cache", true,
                            "reuse the keys and values of earlier prompts and generations that a prompt "
                            "starts with (exact up to float summation order)")
                       .key("prefix_cache_mib", 1024,
                            "memory budget of the prefix cache, MiB; least recently "
                            "used entries are evicted",
                            genius::at_least(1))
                       .key("threads", 0, "CPU threads for libtorch; 0 = leave libtorch's default", genius::at_least(0))
                       .key("max_shard_bytes", std::int64_t{5'000'000'000},
                            "save: largest safetensors shard (transformers' max_shard_size)", genius::at_least(1))
                       .key("init_random", false, "ignore the checkpoint's weights and initialise them randomly")
                       .key("init_seed", 0, "seed of the random initialisation", genius::at_least(0));
      llama::add_model_keys(built);  // `genius init-model`, [pretrain]: model_creation.cpp
      return built;
    }();
    return m;
  }

  static void create_model(const genius::ConfigView& keys, std::uint64_t seed, const fs::path& out) {
    llama::create_model(keys, seed, out, manifest().name);
  }

  explicit TorchLlamaBackend(const genius::ConfigView& cfg)
      : dir_(cfg.get<std::string>("path")),
        device_(parse_device(device_name(cfg.get<std::string>("device")))),
        dtype_(parse_dtype(cfg.get<std::string>("dtype"))),
        max_batch_rows_(cfg.get<std::int64_t>("max_batch_rows")),
        max_shard_bytes_(cfg.get<std::int64_t>("max_shard_bytes")),
        prefix_cache_mib_(cfg.get<bool>("prefix_cache") ? cfg.get<std::int64_t>("prefix_cache_mib") : 0) {
    if (dir_.empty()) throw PluginError("torch-llama", "[model] path is not set (a Hugging Face model directory)");
    if (!fs::is_directory(dir_))
      throw PluginError("torch-llama", "model directory '" + dir_.string() + "' does not exist");
    if (const auto threads = cfg.get<int>("threads"); threads > 0) at::set_num_threads(threads);
    try {
      config_ = llama::ModelConfig::load(dir_);
      tokenizer_ = std::make_shared<llama::Tokenizer>(llama::Tokenizer::from_directory(dir_));
      const std::string family = cfg.get<std::string>("chat_template");
      chat_ = std::make_shared<llama::ChatTemplate>(
          llama::ChatTemplate::from_tokenizer_config(dir_, std::string_view(family)));
    } catch (const std::exception& e) {
      throw PluginError("torch-llama", e.what());
    }
    chat_options_.enable_thinking = cfg.get<bool>("enable_thinking") ? std::nullopt : std::optional<bool>(false);
    if (const std::string system = cfg.get<std::string>("system_prompt"); !system.empty())
      chat_options_.system_message = system;
    response_prefix_ = cfg.get<std::string>("response_prefix");
    if (tokenizer_->vocab_size() > config_.vocab_size)
      throw PluginError("torch-llama", dir_.string() + ": the tokenizer has " +
                                           std::to_string(tokenizer_->vocab_size()) +
                                           " tokens but config.json's vocab_size is " +
                                           std::to_string(config_.vocab_size) + "; they belong to different models");
    for (const std::int64_t id : config_.eos_token_ids)  // config.json and generation_config.json
      if (id >= config_.vocab_size)
        throw PluginError("torch-llama", (dir_ / "config.json").string() + ": eos_token_id " + std::to_string(id) +
                                             " is not a token of the vocabulary (vocab_size " +
                                             std::to_string(config_.vocab_size) + ")");
    try {  // sizes from config.json, checked before anything is allocated from them
      if (cfg.get<bool>("init_random"))
        config_.check_fits_in_memory((dir_ / "config.json").string());
      else
        llama::check_architecture(config_, dir_);
    } catch (const std::exception& e) {
      throw PluginError("torch-llama", e.what());
    }
    model_ = llama::CausalLm(config_);
    if (cfg.get<bool>("init_random")) {
      const double std = config_.raw.value("initializer_range", 0.02);
      llama::init_weights(model_, std, static_cast<std::uint64_t>(cfg.get<std::int64_t>("init_seed")));
    } else {
      try {
        llama::load_weights(model_, dir_);
      } catch (const std::exception& e) {
        throw PluginError("torch-llama", e.what());
      }
    }
    model_->to(device_, dtype_);
    model_->fuse_projections();  // after the move: the joined tensors live on the device
    model_->eval();
    collect_eos_ids();
  }

  // ------------------------------------------------------------- tokenizer

  std::vector<TokenId> encode(std::string_view text) const override { return tokenizer_->encode(text, false); }
  std::string decode(const std::vector<TokenId>& ids) const override { return tokenizer_->decode(ids, true); }
  std::string format_chat(std::string_view user_message) const override {
    return chat_->render(user_message, chat_options_) + response_prefix_;
  }
  std::vector<TokenId> eos_token_ids() const override { return eos_order_; }
  std::int64_t vocab_size() const override { return config_.vocab_size; }

  // ------------------------------------------------------------- inference

  std::vector<genius::GenerationResult> generate(const std::vector<genius::GenerationRequest>& requests) override {
    for (const genius::GenerationRequest& r : requests) check_length(r.prompt_ids.size(), "prompt");
    llama::GenerationOptions options;
    options.eos_ids = eos_ids_;
    options.decode = [this](const std::vector<TokenId>& ids) { return tokenizer_->decode(ids, true); };
    options.max_batch_rows = max_batch_rows_;
    if (tokenizer_->streams_exactly())
      options.make_stream = [tokenizer = tokenizer_] {
        auto decoder = std::make_shared<llama::Utf8StreamDecoder>(*tokenizer, /*skip_special_tokens=*/true);
        return llama::TextStream([decoder](TokenId id) { return decoder->push(id); });
      };
    model_->fuse_projections();  // before the weights' fingerprint: a no-op unless the model was moved
    options.prefix_cache = current_prefix_cache();
    options.stats = &stats_;
    const ForwardScope scope(*this);
    try {
      return llama::generate(model_, requests, options);
    } catch (const std::invalid_argument& e) {
      throw PluginError(name(), e.what());
    }
  }

  std::optional<genius::GenerationStats> generation_stats() const override { return stats_; }
  void reset_generation_cache() override {
    if (prefix_cache_) prefix_cache_->clear();
  }

  // -------------------------------------------------------------- training

  // A sequence longer than the model's positions would allocate attention
  // for it (a 50 MB line: terabytes) before failing; refuse it by its length.
  void check_length(std::size_t tokens, const char* what) const {
    if (static_cast<std::int64_t>(tokens) > config_.max_position_embeddings)
      throw PluginError(name(), std::string("a ") + what + " of " + std::to_string(tokens) +
                                    " tokens is longer than the model's max_position_embeddings (" +
                                    std::to_string(config_.max_position_embeddings) + ", " +
                                    (dir_ / "config.json").string() + ")");
  }
  void check_lengths(const std::vector<genius::ScoringExample>& batch) const {
    for (const genius::ScoringExample& e : batch) check_length(e.prompt_ids.size() + e.response_ids.size(), "sequence");
  }

  at::Tensor sequence_logprobs(const std::vector<genius::ScoringExample>& batch) override {
    check_lengths(batch);
    const ForwardScope scope(*this);
    return llama::response_logprobs(model_, batch).sums;
  }

  std::vector<std::vector<double>> token_logprobs(const std::vector<genius::ScoringExample>& batch) override {
    check_lengths(batch);
    torch::NoGradGuard no_grad;
    const ForwardScope scope(*this);
    return llama::response_logprobs(model_, batch).per_token();
  }

  std::vector<at::Tensor> parameters() override { return lora_ ? lora_->parameters() : model_->parameters(); }
  void set_training(bool training) override {
    if (!shares_base_) model_->train(training);  // a frozen copy on a shared base is always evaluating
  }

  // ------------------------------------------------------------------ LoRA

  void add_lora(const genius::LoraOptions& options) override {
    if (lora_) throw PluginError(name(), "LoRA adapters were added already");
    try {
      lora_ = std::make_shared<llama::LoraAdapters>(*model_, options);
    } catch (const std::invalid_argument& e) {
      throw PluginError(name(), e.what());
    }
    freeze_base(true);
  }

  void merge_lora() override {
    if (!lora_) throw PluginError(name(), "there are no LoRA adapters to merge");
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < model_->model->layers->size(); ++i) {
      auto& layer = *model_->model->layers[i]->as<llama::DecoderLayer>();
      const std::pair<llama::LoraTarget, torch::nn::Linear> linears[] = {
          {llama::LoraTarget::q_proj, layer.self_attn->q_proj}, {llama::LoraTarget::k_proj, layer.self_attn->k_proj},
          {llama::LoraTarget::v_proj, layer.self_attn->v_proj}, {llama::LoraTarget::o_proj, layer.self_attn->o_proj},
          {llama::LoraTarget::gate_proj, layer.mlp->gate_proj}, {llama::LoraTarget::up_proj, layer.mlp->up_proj},
          {llama::LoraTarget::down_proj, layer.mlp->down_proj}};
      for (const auto& [target, linear] : linears)
        linear->weight.copy_(lora_->merged_weight(i, target, linear->weight));
    }
    lora_.reset();
    freeze_base(false);
  }

  void set_gradient_checkpointing(bool on) override { model_->gradient_checkpointing = on; }

  std::unique_ptr<genius::ModelBackend> frozen_copy() const override {
    if (lora_) {
      // The base is frozen: share it (no copy of the model), clone the adapters.
      auto copy = std::unique_ptr<TorchLlamaBackend>(new TorchLlamaBackend(*this, Frozen{}, model_));
      copy->lora_ = std::make_shared<llama::LoraAdapters>(lora_->frozen_clone());
      genius::detail::PluginAccess::set_name(*copy, name());
      return copy;
    }
    auto copy = std::unique_ptr<TorchLlamaBackend>(new TorchLlamaBackend(*this, Frozen{}, llama::CausalLm(config_)));
    copy->model_->to(device_, dtype_);
    torch::NoGradGuard no_grad;
    const auto source = model_->named_parameters();
    for (auto& item : copy->model_->named_parameters()) {
      item.value().copy_(*source.find(item.key()));
      item.value().set_requires_grad(false);
    }
    copy->model_->fuse_projections();
    copy->model_->eval();
    genius::detail::PluginAccess::set_name(*copy, name());
    return copy;
  }

  // ----------------------------------------------------------- persistence

  void save(const fs::path& dir) const override {
    if (lora_) {  // a PEFT adapter directory for the base model
      lora_->save(dir, fs::absolute(dir_).lexically_normal().string());
      return;
    }
    fs::create_directories(dir);
    llama::ModelConfig config = config_;
    config.torch_dtype = dtype_name(dtype_);
    genius::write_file_atomic(dir / "config.json", config.to_json().dump(2) + "\n");
    // Tokenizer and generation files travel unchanged, so the checkpoint
    // loads in transformers / vLLM exactly like the original.
    for (const char* file : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                             "generation_config.json", "chat_template.jinja"}) {
      const fs::path from = dir_ / file, to = dir / file;
      if (fs::exists(from) && !(fs::exists(to) && fs::equivalent(from, to)))
        genius::write_file_atomic(to, genius::read_file(from));
    }
    if (!fs::exists(dir / "tokenizer.json")) tokenizer_->save(dir);
    llama::save_weights(model_, dir, static_cast<std::uint64_t>(max_shard_bytes_));
  }

  void load_weights(const fs::path& dir) override {
    try {
      if (fs::exists(dir / "adapter_config.json")) {
        if (lora_) {
          lora_->load_values(*model_, dir);  // into the same tensors (an optimizer may hold them)
        } else {
          lora_ = std::make_shared<llama::LoraAdapters>(llama::LoraAdapters::load(*model_, dir));
          freeze_base(true);
        }
        return;
      }
      if (fs::exists(dir / "config.json")) check_same_architecture(llama::ModelConfig::load(dir), dir);
      llama::load_weights(model_, dir);
      // The base model itself: adapters start again as it (fresh A, zero B).
      if (lora_) lora_ = std::make_shared<llama::LoraAdapters>(*model_, lora_->options());
    } catch (const std::exception& e) {
      throw PluginError(name(), e.what());
    }
  }

  std::string device() const override { return device_.str(); }
  std::string dtype() const override { return dtype_name(dtype_); }

 private:
  struct Frozen {};

  // A checkpoint's config.json (when it has one) describes this model.
  void check_same_architecture(const llama::ModelConfig& other, const fs::path& dir) const {
    const std::pair<const char*, std::pair<std::int64_t, std::int64_t>> dims[] = {
        {"vocab_size", {config_.vocab_size, other.vocab_size}},
        {"hidden_size", {config_.hidden_size, other.hidden_size}},
        {"intermediate_size", {config_.intermediate_size, other.intermediate_size}},
        {"num_hidden_layers", {config_.num_hidden_layers, other.num_hidden_layers}},
        {"num_attention_heads", {config_.num_attention_heads, other.num_attention_heads}},
        {"num_key_value_heads", {config_.num_key_value_heads, other.num_key_value_heads}}};
    for (const auto& [key, values] : dims)
      if (values.first != values.second)
        throw std::runtime_error((dir / "config.json").string() + ": " + key + " is " + std::to_string(values.second) +
                                 ", but the model is " + std::to_string(values.first) +
                                 ": the checkpoint belongs to another model");
  }

  // Points the shared model at this backend's adapters for one call, and a
  // frozen copy on a shared base evaluates (no dropout) whatever mode the
  // policy is in.
  class ForwardScope {
   public:
    explicit ForwardScope(const TorchLlamaBackend& b) : model_(b.model_), training_(b.model_->is_training()) {
      model_->lora = b.lora_.get();
      if (b.shares_base_ && training_) model_->train(false), restore_ = true;
    }
    ~ForwardScope() {
      if (restore_) model_->train(training_);
    }
    ForwardScope(const ForwardScope&) = delete;
    ForwardScope& operator=(const ForwardScope&) = delete;

   private:
    llama::CausalLm model_;
    bool training_;
    bool restore_ = false;
  };

  // LoRA trains the adapters only: the base weights take no gradients.
  void freeze_base(bool frozen) {
    for (auto& p : model_->parameters()) p.set_requires_grad(!frozen);
  }

  // Everything but the weights is shared or copied; the model is `model`: a
  // new one, or the policy's own (LoRA: its base weights are frozen).
  TorchLlamaBackend(const TorchLlamaBackend& other, Frozen, llama::CausalLm model)
      : dir_(other.dir_),
        device_(other.device_),
        dtype_(other.dtype_),
        max_batch_rows_(other.max_batch_rows_),
        max_shard_bytes_(other.max_shard_bytes_),
        prefix_cache_mib_(other.prefix_cache_mib_),
        config_(other.config_),
        tokenizer_(other.tokenizer_),
        chat_(other.chat_),
        chat_options_(other.chat_options_),
        response_prefix_(other.response_prefix_),
        model_(std::move(model)),
        shares_base_(model_.get() == other.model_.get()),
        eos_ids_(other.eos_ids_),
        eos_order_(other.eos_order_) {}

  // The device key, or GENIUS_TEST_DEVICE in its place when the key is at its
  // default: how the test suite runs on a GPU machine unchanged
  // (scripts/device-check.sh); a config that names a device keeps it.
  static std::string device_name(const std::string& configured) {
    const char* test_device = std::getenv("GENIUS_TEST_DEVICE");
    return configured == "cpu" && test_device && *test_device ? std::string(test_device) : configured;
  }

  static at::Device parse_device(const std::string& name) {
    try {
      at::Device d(name);
      if (d.is_cuda() && !torch::cuda::is_available())
        throw PluginError("torch-llama", "device '" + name + "' requested but this libtorch sees no CUDA device");
      return d;
    } catch (const c10::Error&) {
      throw PluginError("torch-llama", "unknown device '" + name + "' (cpu, cuda, cuda:N)");
    }
  }

  // The tokenizer's own eos token first (the one a response should end with:
  // <|eot_id|> for Llama-3 instruct, <|im_end|> for Qwen), then the others
  // that config.json and generation_config.json name.
  void collect_eos_ids() {
    if (auto id = tokenizer_->eos_id()) eos_order_.push_back(*id);
    for (auto id : config_.eos_token_ids)
      if (std::find(eos_order_.begin(), eos_order_.end(), static_cast<TokenId>(id)) == eos_order_.end())
        eos_order_.push_back(static_cast<TokenId>(id));
    eos_ids_.insert(eos_order_.begin(), eos_order_.end());
  }

  // The prefix cache, emptied whenever the weights may have changed: an
  // optimizer step, load_weights or a move bumps a parameter's version
  // counter or storage, which the fingerprint covers.
  llama::PrefixCache* current_prefix_cache() {
    if (prefix_cache_mib_ <= 0) return nullptr;
    std::uint64_t fingerprint = 1469598103934665603ULL;
    std::vector<at::Tensor> weights = model_->parameters();
    if (lora_)
      for (const auto& p : lora_->parameters()) weights.push_back(p);
    for (const auto& p : weights) {
      for (const auto v : {reinterpret_cast<std::uintptr_t>(p.data_ptr()), std::uintptr_t(p._version())})
        fingerprint = (fingerprint ^ v) * 1099511628211ULL;
    }
    if (!prefix_cache_) prefix_cache_ = std::make_unique<llama::PrefixCache>(prefix_cache_mib_ << 20);
    if (fingerprint != weights_fingerprint_) prefix_cache_->clear();
    weights_fingerprint_ = fingerprint;
    return prefix_cache_.get();
  }

  fs::path dir_;
  at::Device device_;
  at::ScalarType dtype_;
  std::int64_t max_batch_rows_;
  std::int64_t max_shard_bytes_;
  std::int64_t prefix_cache_mib_;  ///< 0: off
  std::unique_ptr<llama::PrefixCache> prefix_cache_;
  std::uint64_t weights_fingerprint_ = 0;
  genius::GenerationStats stats_;
  llama::ModelConfig config_;
  std::shared_ptr<const llama::Tokenizer> tokenizer_;
  std::shared_ptr<const llama::ChatTemplate> chat_;
  llama::ChatOptions chat_options_;
  std::string response_prefix_;  ///< after the generation prompt of every format_chat
  llama::CausalLm model_{nullptr};
  std::shared_ptr<llama::LoraAdapters> lora_;  ///< null: full fine-tuning (or inference)
  bool shares_base_ = false;                   ///< a frozen copy whose model_ is the policy's
  std::set<TokenId> eos_ids_;
  std::vector<TokenId> eos_order_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(TorchLlamaBackend)
