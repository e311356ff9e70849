// A ModelBackend base for tests that script a model: byte tokens (id = byte,
// vocabulary 256, eos 0), no parameters, nothing to save. A test overrides
// what it scripts (format_chat, generate, token_logprobs, ...); the rest
// throws "unused" or does nothing.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <genius/model_backend.hpp>

namespace genius::test {

class ByteBackend : public ModelBackend {
 public:
  explicit ByteBackend(const std::string& name) { detail::PluginAccess::set_name(*this, name); }

  std::vector<TokenId> encode(std::string_view text) const override { return {text.begin(), text.end()}; }
  std::string decode(const std::vector<TokenId>& ids) const override {
    std::string s;
    for (TokenId id : ids) s += static_cast<char>(id);
    return s;
  }
  std::string format_chat(std::string_view user_message) const override { return std::string(user_message); }
  std::vector<TokenId> eos_token_ids() const override { return {0}; }
  std::int64_t vocab_size() const override { return 256; }

  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>&) override {
    throw std::logic_error("unused");
  }
  at::Tensor sequence_logprobs(const std::vector<ScoringExample>&) override { throw std::logic_error("unused"); }
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>&) override {
    throw std::logic_error("unused");
  }
  std::vector<at::Tensor> parameters() override { return {}; }
  void set_training(bool) override {}
  std::unique_ptr<ModelBackend> frozen_copy() const override { throw std::logic_error("unused"); }
  void save(const std::filesystem::path&) const override {}
  void load_weights(const std::filesystem::path&) override {}
  std::string device() const override { return "cpu"; }
  std::string dtype() const override { return "float32"; }
};

}  // namespace genius::test
