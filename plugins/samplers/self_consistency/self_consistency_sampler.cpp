// `self-consistency`: n whole responses per query; the pair prefers a response
// with the most frequent final answer over one whose answer differs. The vote
// is the self-reward: no labels are read anywhere.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

#include <genius/helpers/pairs.hpp>

#include <genius/helpers/whole_responses.hpp>

namespace {

using genius::Candidate;
using genius::ExplorationRecord;
using genius::PreferencePair;

// The majority of a pool (genius::majority_choice over the candidates'
// answers, keyed by their scores).
std::optional<std::size_t> majority_choice(const std::vector<Candidate>& pool) {
  std::vector<std::string> answers;
  std::vector<double> scores;
  for (const Candidate& c : pool) answers.push_back(c.answer), scores.push_back(c.score);
  return genius::majority_choice(answers, scores);
}

class SelfConsistencySampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::samplers::add_whole_response_keys(
            genius::PluginManifest(genius::PluginKind::Sampler, "self-consistency", "1.0.0",
                                   "n whole responses per query; pair = a majority-answer response vs a response "
                                   "with another (or no) answer"))
            .key("answer_pattern", "",
                 "ECMAScript regex whose first group (of the last match) is the answer; \"\" = the last \\boxed{}");
    return m;
  }

  explicit SelfConsistencySampler(const genius::ConfigView& cfg)
      : options_{cfg.get<int>("n"), cfg.get<double>("temperature"), cfg.get<double>("top_p"),
                 cfg.get<int>("max_tokens")},
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")),
        extract_(genius::plugin_answer_extractor("self-consistency", cfg.get<std::string>("answer_pattern"))) {}

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  // Sample, extract each response's answer, score (parent value 0), and keep
  // the majority choice as the response (the highest score when no response
  // has an answer).
  std::vector<ExplorationRecord> explore(const std::vector<genius::Query>& queries, genius::ModelBackend& backend,
                                         genius::ValueEstimator& values) override {
    auto records = genius::samplers::sample_whole_responses(queries, backend, options_);
    for (ExplorationRecord& record : records) {
      genius::StepRecord& step = record.steps.front();
      for (Candidate& c : step.candidates) c.answer = extract_(c.trajectory).value_or("");
      values.score(record.query, step.candidates, step.beam_values, backend);
      const auto pick = majority_choice(step.candidates);
      const auto best = pick ? *pick : static_cast<std::size_t>(genius::samplers::highest_score(step.candidates));
      step.selected = {static_cast<int>(best)};
      record.response = step.candidates[best].trajectory;
    }
    return records;
  }

  // chosen = majority_choice; rejected = drawn uniformly (rng() % count, from
  // an mt19937_64 seeded with `seed`, one draw per pool) among the responses
  // whose answer differs from the majority's or is missing. No pair when every
  // answer agrees or no response has an answer.
  std::vector<PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const override {
    std::mt19937_64 rng(seed);
    std::vector<PreferencePair> pairs;
    for (const genius::StepRecord& step : record.steps) {
      const auto& pool = step.candidates;
      const auto chosen = majority_choice(pool);
      if (!chosen) continue;
      const std::string majority = genius::normalize_answer(pool[*chosen].answer);
      std::vector<std::size_t> others;
      for (std::size_t i = 0; i < pool.size(); ++i)
        if (pool[i].answer.empty() || genius::normalize_answer(pool[i].answer) != majority) others.push_back(i);
      if (others.empty()) continue;
      const std::size_t rejected = others[static_cast<std::size_t>(rng() % others.size())];
      pairs.push_back(genius::make_pair(record, step, *chosen, rejected));
    }
    return pairs;
  }

 private:
  genius::samplers::WholeResponseOptions options_;
  std::size_t concurrent_queries_;
  genius::AnswerExtractor extract_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(SelfConsistencySampler)
