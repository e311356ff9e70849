// Helpers shared by the sampler and value-estimator tests (the sampler_test
// executable: tests/samplers/*_test.cpp, tests/values/value_test.cpp): the
// builtin plugins, a tiny model made by `genius init-model` (once per
// process), a recording decorator around the backend, and an independent copy
// of the documented seed rule.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <genius/model_backend.hpp>
#include <genius/sampler.hpp>
#include <genius/value_estimator.hpp>

#include "config/config.hpp"
#include "plugins/checked_values.hpp"
#include "plugins/plugin_registry.hpp"
#include "test_support.hpp"

namespace genius::sampler_test {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ------------------------------------------------------------------ set-up

inline fs::path scratch(const std::string& name) {
  return test::scratch_dir("genius_sampler_test", name);
}

inline const core::PluginRegistry& registry() {
  return test::builtin_registry();
}

inline const fs::path& model_dir() {
  static const fs::path d = [] {
    const fs::path dir = scratch("tiny");
    test::init_model(dir, "--arch llama --hidden 32 --layers 2 --heads 4 --seed 7");
    return dir;
  }();
  return d;
}

inline core::ResolvedConfig config(const std::string& section, const std::string& plugin, const std::string& keys) {
  const std::string toml = "[" + section + "]\nplugin = \"" + plugin + "\"\n" + keys;
  return core::validate(core::RawConfig::parse(toml, "test.toml"), registry());
}

inline std::shared_ptr<ModelBackend> tiny_model() {
  static const std::shared_ptr<ModelBackend> m = registry().create_as<ModelBackend>(
      PluginKind::ModelBackend, "torch-llama",
      config("model", "torch-llama", "path = \"" + model_dir().string() + "\"\n").view("model"));
  return m;
}

inline std::shared_ptr<Sampler> sampler(const std::string& plugin, const std::string& keys = "") {
  return registry().create_as<Sampler>(PluginKind::Sampler, plugin, config("sampler", plugin, keys).view("sampler"));
}

/// A value estimator as a sampler sees it in a run: behind the host's checks,
/// which also compute every advantage (plugins/checked_values.hpp).
class HostValues final : public ValueEstimator {
 public:
  explicit HostValues(std::shared_ptr<ValueEstimator> plugin) : plugin_(std::move(plugin)), checked_(*plugin_, "test") {
    detail::PluginAccess::set_name(*this, plugin_->name());
  }
  void score(const Query& query, std::vector<Candidate>& candidates, const std::vector<double>& parent_values,
             ModelBackend& backend) override {
    checked_.score(query, candidates, parent_values, backend);
  }

 private:
  std::shared_ptr<ValueEstimator> plugin_;
  core::CheckedValues checked_;
};

inline std::shared_ptr<ValueEstimator> value(const std::string& plugin, const std::string& keys = "") {
  return std::make_shared<HostValues>(registry().create_as<ValueEstimator>(
      PluginKind::ValueEstimator, plugin, config("value", plugin, keys).view("value")));
}

/// A ModelBackend that forwards to another and records every generate call
/// (its requests and results). `ignore_eos` makes the model run past its
/// end-of-sequence token, so that no candidate is complete by accident and
/// every pool has K*M members; `script` replaces the model's samples.
class RecordingBackend final : public ModelBackend {
 public:
  using Script = std::function<std::vector<GenerationResult>(std::size_t call, const std::vector<GenerationRequest>&)>;

  explicit RecordingBackend(std::shared_ptr<ModelBackend> inner) : inner_(std::move(inner)) {}

  std::vector<std::vector<GenerationRequest>> calls;
  std::vector<std::vector<GenerationResult>> results;
  bool ignore_eos = false;
  Script script;
  double generate_seconds = 0;
  std::vector<double> call_seconds;

  std::vector<TokenId> encode(std::string_view text) const override { return inner_->encode(text); }
  std::string decode(const std::vector<TokenId>& ids) const override { return inner_->decode(ids); }
  std::string format_chat(std::string_view m) const override { return inner_->format_chat(m); }
  std::vector<TokenId> eos_token_ids() const override { return inner_->eos_token_ids(); }
  std::int64_t vocab_size() const override { return inner_->vocab_size(); }

  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override {
    const auto start = std::chrono::steady_clock::now();
    std::vector<GenerationResult> out;
    if (script) {
      out = script(calls.size(), requests);
    } else {
      std::vector<GenerationRequest> forwarded = requests;
      for (auto& r : forwarded) r.ignore_eos = r.ignore_eos || ignore_eos;
      out = inner_->generate(forwarded);
    }
    call_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    generate_seconds += call_seconds.back();
    calls.push_back(requests);
    results.push_back(out);
    return out;
  }

  at::Tensor sequence_logprobs(const std::vector<ScoringExample>& b) override { return inner_->sequence_logprobs(b); }
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& b) override {
    return inner_->token_logprobs(b);
  }
  std::vector<at::Tensor> parameters() override { return inner_->parameters(); }
  void set_training(bool training) override { inner_->set_training(training); }
  std::unique_ptr<ModelBackend> frozen_copy() const override { return inner_->frozen_copy(); }
  void save(const fs::path& dir) const override { inner_->save(dir); }
  void load_weights(const fs::path& dir) override { inner_->load_weights(dir); }
  std::string device() const override { return inner_->device(); }
  std::string dtype() const override { return inner_->dtype(); }

  std::int64_t generated_tokens() const {
    std::int64_t n = 0;
    for (const auto& call : results)
      for (const auto& r : call)
        for (const auto& s : r.samples) n += s.num_tokens();
    return n;
  }

 private:
  std::shared_ptr<ModelBackend> inner_;
};

inline GeneratedSample sample(const std::string& text, int tokens, double logprob, FinishReason finish) {
  GeneratedSample s;
  s.text = text;
  s.token_ids.assign(static_cast<std::size_t>(tokens), 65);
  s.cumulative_logprob = logprob;
  s.finish_reason = finish;
  return s;
}

inline const std::vector<Query> kQueries = {{"q0", "Q:7-1+9-7", 11}, {"q1", "Q:3+4", 22}, {"q2", "Q:9-2-5+1", 33}};

// ------------------------------------------------- the documented seed rule
// An independent copy of docs/samplers.md "Seeds": splitmix64 children, the
// 53-bit uniform, and the sequential draw without replacement.

inline std::uint64_t child(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline std::uint64_t derive(std::uint64_t seed, std::vector<std::uint64_t> path) {
  for (auto i : path) seed = child(seed, i);
  return seed;
}

// softmax(keys / tau) draw of `count` indices without replacement.
inline std::vector<int> expected_draw(const std::vector<double>& keys, std::size_t count, double tau,
                                      std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double top = *std::max_element(keys.begin(), keys.end());
  std::vector<double> w;
  for (double k : keys) w.push_back(std::exp((k - top) / tau));
  std::vector<int> out;
  while (out.size() < count) {
    double total = 0;
    for (double x : w) total += x;
    int pick = -1;
    if (total > 0) {
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
      double run = 0;
      for (std::size_t i = 0; i < w.size() && pick < 0; ++i)
        if (w[i] > 0 && u < (run += w[i])) pick = static_cast<int>(i);
      for (std::size_t i = w.size(); pick < 0 && i-- > 0;)
        if (w[i] > 0) pick = static_cast<int>(i);
    } else {  // every weight underflowed: the highest remaining key
      for (std::size_t i = 0; i < keys.size(); ++i)
        if (std::find(out.begin(), out.end(), static_cast<int>(i)) == out.end() &&
            (pick < 0 || keys[i] > keys[static_cast<std::size_t>(pick)]))
          pick = static_cast<int>(i);
    }
    w[static_cast<std::size_t>(pick)] = 0;
    out.push_back(pick);
  }
  return out;
}

inline std::vector<double> scores_of(const StepRecord& s) {
  std::vector<double> v;
  for (const auto& c : s.candidates) v.push_back(c.score);
  return v;
}

inline void expect_same_record(const ExplorationRecord& a, const ExplorationRecord& b, double tol) {
  EXPECT_EQ(a.query.id, b.query.id);
  EXPECT_EQ(a.response, b.response);
  EXPECT_EQ(a.generated_tokens, b.generated_tokens);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (std::size_t t = 0; t < a.steps.size(); ++t) {
    const StepRecord &x = a.steps[t], &y = b.steps[t];
    EXPECT_EQ(x.beams, y.beams);
    EXPECT_EQ(x.selected, y.selected);
    EXPECT_EQ(x.foresight_skipped, y.foresight_skipped);
    ASSERT_EQ(x.candidates.size(), y.candidates.size());
    for (std::size_t i = 0; i < x.candidates.size(); ++i) {
      const Candidate &c = x.candidates[i], &d = y.candidates[i];
      EXPECT_EQ(c.trajectory, d.trajectory) << "step " << t + 1 << " candidate " << i;
      EXPECT_EQ(c.step_tokens, d.step_tokens);
      EXPECT_EQ(c.rollout_tokens, d.rollout_tokens);
      EXPECT_NEAR(c.step_logprob, d.step_logprob, tol);
      EXPECT_NEAR(c.rollout_logprob, d.rollout_logprob, tol);
      EXPECT_NEAR(c.score, d.score, tol);
      EXPECT_NEAR(c.advantage, d.advantage, tol);
    }
  }
}

}  // namespace genius::sampler_test
