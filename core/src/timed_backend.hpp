// A ModelBackend that forwards to another and measures its generate calls:
// how much of a stage's time the model itself took, and how many tokens.
#pragma once

#include <chrono>
#include <memory>

#include <genius/model_backend.hpp>

namespace genius::core {

class TimedBackend final : public ModelBackend {
 public:
  explicit TimedBackend(std::shared_ptr<ModelBackend> inner);

  double generate_seconds() const { return seconds_; }
  std::int64_t generated_tokens() const { return tokens_; }
  std::int64_t generate_calls() const { return calls_; }
  void reset_counters() { seconds_ = 0, tokens_ = 0, calls_ = 0; }

  std::vector<TokenId> encode(std::string_view text) const override { return inner_->encode(text); }
  std::string decode(const std::vector<TokenId>& ids) const override { return inner_->decode(ids); }
  std::string format_chat(std::string_view message) const override { return inner_->format_chat(message); }
  std::vector<TokenId> eos_token_ids() const override { return inner_->eos_token_ids(); }
  std::int64_t vocab_size() const override { return inner_->vocab_size(); }
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override;
  at::Tensor sequence_logprobs(const std::vector<ScoringExample>& batch) override {
    return inner_->sequence_logprobs(batch);
  }
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& batch) override {
    return inner_->token_logprobs(batch);
  }
  std::vector<at::Tensor> parameters() override { return inner_->parameters(); }
  void set_training(bool training) override { inner_->set_training(training); }
  std::unique_ptr<ModelBackend> frozen_copy() const override { return inner_->frozen_copy(); }
  void save(const std::filesystem::path& dir) const override { inner_->save(dir); }
  void load_weights(const std::filesystem::path& dir) override { inner_->load_weights(dir); }
  std::string device() const override { return inner_->device(); }
  std::string dtype() const override { return inner_->dtype(); }

 private:
  std::shared_ptr<ModelBackend> inner_;
  double seconds_ = 0;
  std::int64_t tokens_ = 0, calls_ = 0;
};

}  // namespace genius::core
