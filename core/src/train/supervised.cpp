#include "train/supervised.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "train/optimizer_loop.hpp"

namespace genius::core {

namespace {

/// The mean negative log-likelihood of the response tokens as an Objective:
/// every response token of an optimizer step weighs the same, whichever
/// micro-batch it is in.
class NllObjective final : public Objective {
 public:
  explicit NllObjective(std::vector<ScoringExample> examples) : examples_(std::move(examples)) {}

  std::string description() const override { return "next-token loss"; }
  std::size_t size() const override { return examples_.size(); }
  std::string fingerprint() const override {
    Fingerprint data;
    for (const ScoringExample& e : examples_) {
      data.add(e.prompt_ids);
      data.add(e.response_ids);
    }
    return data.hex();
  }
  void begin_step(const std::vector<std::size_t>& step) override {
    step_tokens_ = 0;
    for (std::size_t i : step) step_tokens_ += static_cast<std::int64_t>(examples_[i].response_ids.size());
    response_tokens_ += step_tokens_;
  }
  MicroBatchResult micro_batch(ModelBackend& policy, const std::vector<std::size_t>& indices) override {
    std::vector<ScoringExample> rows;
    MicroBatchResult r;
    for (std::size_t i : indices) {
      rows.push_back(examples_[i]);
      r.tokens += static_cast<std::int64_t>(rows.back().prompt_ids.size() + rows.back().response_ids.size());
    }
    r.loss = -policy.sequence_logprobs(rows).sum() / static_cast<double>(step_tokens_);
    r.value = r.loss.item<double>();
    return r;
  }
  std::int64_t response_tokens() const { return response_tokens_; }

 private:
  std::vector<ScoringExample> examples_;
  std::int64_t step_tokens_ = 1;
  std::int64_t response_tokens_ = 0;
};

}  // namespace

SupervisedSummary train_supervised(ModelBackend& policy, const std::vector<TextExample>& examples,
                                   const TrainOptions& options, const StepCallback& on_step) {
  SupervisedSummary summary;
  if (examples.empty()) return summary;
  const auto eos = policy.eos_token_ids();
  std::vector<ScoringExample> tokenized;
  tokenized.reserve(examples.size());
  for (const auto& e : examples) {
    ScoringExample t{policy.encode(policy.format_chat(e.prompt)), policy.encode(e.response)};
    if (!eos.empty()) t.response_ids.push_back(eos.front());
    const auto max_length = static_cast<std::size_t>(options.max_length);
    const std::size_t room = max_length - std::min(t.prompt_ids.size(), max_length);
    if (room == 0) {
      ++summary.dropped;
      continue;
    }
    if (t.response_ids.size() > room) {
      t.response_ids.resize(room);
      ++summary.truncated;
    }
    tokenized.push_back(std::move(t));
  }
  if (tokenized.empty())
    throw std::runtime_error("every example's prompt has max_length (" + std::to_string(options.max_length) +
                             ") tokens or more; raise [train] max_length");
  if (summary.dropped > 0)
    spdlog::warn("supervised training: {} of {} examples dropped: the prompt alone has max_length ({}) tokens or more",
                 summary.dropped, examples.size(), options.max_length);
  if (summary.truncated > 0)
    spdlog::warn(
        "supervised training: {} of {} responses cut to max_length ({} tokens with the prompt); raise "
        "[train] max_length",
        summary.truncated, examples.size(), options.max_length);

  NllObjective objective(std::move(tokenized));
  const LoopSummary loop = OptimizerLoop(policy, options, /*state_dir=*/"").run(objective, on_step);
  summary.steps = loop.steps;
  summary.tokens = objective.response_tokens();
  summary.first_loss = loop.first_loss;
  summary.last_loss = loop.last_loss;
  summary.seconds = loop.seconds;
  summary.tokens_per_second = loop.seconds > 0 ? static_cast<double>(loop.tokens) / loop.seconds : 0.0;
  return summary;
}

}  // namespace genius::core
