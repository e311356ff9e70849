// The host's side of every ModelBackend call: a ModelBackend that forwards to
// the plugin, checks what it returns and measures its generate calls. Every
// caller the host hands a backend to (samplers, value estimators, the
// evaluator, the trainer) goes through it, so a third-party backend is held to
// the contract exactly like torch-llama, and a broken result is reported at
// once as the backend's PluginError instead of surfacing later as an
// out-of-range read or a NaN weight.
//
// Checked: generate returns one result per request, `n` samples each, every
// sample with at least one token id in [0, vocab_size) and a finite log-prob
// (an empty request list is answered without calling the plugin);
// sequence_logprobs returns a [B] floating tensor; token_logprobs one finite
// log-prob per response token; frozen_copy a backend, itself checked.
// generation_stats is the plugin's own (GenerationMeter takes a stage's share).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <genius/model_backend.hpp>

namespace genius::core {

class CheckedBackend final : public ModelBackend {
 public:
  explicit CheckedBackend(std::shared_ptr<ModelBackend> inner);

  /// Time spent in, tokens returned by, and number of generate calls since
  /// the last reset (a stage's accounting).
  double generate_seconds() const { return seconds_; }
  std::int64_t generated_tokens() const { return tokens_; }
  std::int64_t generate_calls() const { return calls_; }
  /// Prompt tokens handed to generate (once per request: its samples share
  /// the prefill), and prompt + response tokens handed to token_logprobs and
  /// sequence_logprobs (teacher-forced scoring): the tokens a model computes
  /// without generating them.
  std::int64_t prompt_tokens() const { return prompt_tokens_; }
  std::int64_t scored_tokens() const { return scored_tokens_; }
  void reset_counters() { seconds_ = 0, tokens_ = 0, calls_ = 0, prompt_tokens_ = 0, scored_tokens_ = 0; }

  /// While it lives, errors are the PluginError of `caller` (the plugin
  /// calling the backend, e.g. a sampler) and name the backend in the message.
  class CallerScope {
   public:
    CallerScope(CheckedBackend& backend, std::string caller) : backend_(backend), previous_(backend.caller_) {
      backend_.caller_ = std::move(caller);
    }
    ~CallerScope() { backend_.caller_ = previous_; }
    CallerScope(const CallerScope&) = delete;
    CallerScope& operator=(const CallerScope&) = delete;

   private:
    CheckedBackend& backend_;
    std::string previous_;
  };

  std::vector<TokenId> encode(std::string_view text) const override { return inner_->encode(text); }
  std::string decode(const std::vector<TokenId>& ids) const override { return inner_->decode(ids); }
  std::string format_chat(std::string_view message) const override { return inner_->format_chat(message); }
  std::vector<TokenId> eos_token_ids() const override { return inner_->eos_token_ids(); }
  std::int64_t vocab_size() const override { return inner_->vocab_size(); }
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override;
  std::optional<GenerationStats> generation_stats() const override { return inner_->generation_stats(); }
  void reset_generation_cache() override { inner_->reset_generation_cache(); }
  at::Tensor sequence_logprobs(const std::vector<ScoringExample>& batch) override;
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& batch) override;
  std::vector<at::Tensor> parameters() override { return inner_->parameters(); }
  void set_training(bool training) override { inner_->set_training(training); }
  std::unique_ptr<ModelBackend> frozen_copy() const override;
  void add_lora(const LoraOptions& options) override { inner_->add_lora(options); }
  void merge_lora() override { inner_->merge_lora(); }
  void set_gradient_checkpointing(bool on) override { inner_->set_gradient_checkpointing(on); }
  void save(const std::filesystem::path& dir) const override { inner_->save(dir); }
  void load_weights(const std::filesystem::path& dir) override { inner_->load_weights(dir); }
  std::string device() const override { return inner_->device(); }
  std::string dtype() const override { return inner_->dtype(); }

 private:
  [[noreturn]] void fail(const std::string& message) const;
  void count_scored(const std::vector<ScoringExample>& batch);

  std::shared_ptr<ModelBackend> inner_;
  std::string caller_;
  double seconds_ = 0;
  std::int64_t tokens_ = 0, calls_ = 0, prompt_tokens_ = 0, scored_tokens_ = 0;
};

}  // namespace genius::core
