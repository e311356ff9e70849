// `best-of-n`: n whole responses per query, scored by the value estimator;
// the pair is (highest score, lowest score). The baseline the embedded demo
// measured against foresight (embedded-demo.md): with `sequence-logprob` the
// higher-scored side was the correct one in 81% of one-sided pairs.
#include <string>
#include <vector>

#include <genius/helpers/pairs.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

#include <genius/helpers/whole_responses.hpp>

namespace {

using genius::ExplorationRecord;
using genius::PreferencePair;

class BestOfNSampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::samplers::add_whole_response_keys(
            genius::PluginManifest(genius::PluginKind::Sampler, "best-of-n", "1.0.0",
                                   "n whole responses per query scored by the value estimator; pair = highest vs "
                                   "lowest (or a random other) score"))
            .choice("rejected", "lowest", {"lowest", "random"},
                    "the rejected response: the lowest score, or one drawn uniformly from the others");
    return m;
  }

  explicit BestOfNSampler(const genius::ConfigView& cfg)
      : options_{cfg.get<int>("n"), cfg.get<double>("temperature"), cfg.get<double>("top_p"),
                 cfg.get<int>("max_tokens")},
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")),
        rejected_random_(cfg.get<std::string>("rejected") == "random") {}

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  // Sample, score (parent value 0, so A = score), and keep the best response.
  std::vector<ExplorationRecord> explore(const std::vector<genius::Query>& queries, genius::ModelBackend& backend,
                                         genius::ValueEstimator& values) override {
    auto records = genius::samplers::sample_whole_responses(queries, backend, options_);
    for (ExplorationRecord& record : records) {
      genius::StepRecord& step = record.steps.front();
      values.score(record.query, step.candidates, step.beam_values, backend);
      const int best = genius::samplers::highest_score(step.candidates);
      step.selected = {best};
      record.response = step.candidates[static_cast<std::size_t>(best)].trajectory;
    }
    return records;
  }

  // chosen = the highest score (the first on ties); rejected = the lowest
  // score (the last on ties, so it differs from chosen whenever n >= 2), or,
  // with rejected = "random", genius::step_pairs's uniform draw from the rest
  // (copies of the chosen response included, as before).
  std::vector<PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const override {
    if (rejected_random_)
      return genius::step_pairs(record, seed, {genius::RejectedRule::Random, 1.0, /*skip_copies=*/false});
    std::vector<PreferencePair> pairs;
    for (const genius::StepRecord& step : record.steps) {
      const auto& pool = step.candidates;
      if (pool.size() < 2) continue;
      const auto chosen = static_cast<std::size_t>(genius::samplers::highest_score(pool));
      std::size_t rejected = chosen == pool.size() - 1 ? 0 : pool.size() - 1;
      for (std::size_t i = 0; i < pool.size(); ++i)
        if (i != chosen && pool[i].score <= pool[rejected].score) rejected = i;
      pairs.push_back(genius::make_pair(record, step, chosen, rejected));
    }
    return pairs;
  }

 private:
  genius::samplers::WholeResponseOptions options_;
  std::size_t concurrent_queries_;
  bool rejected_random_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(BestOfNSampler)
