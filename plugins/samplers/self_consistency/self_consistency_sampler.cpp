// `self-consistency`: n whole responses per query; the pair prefers a response
// with the most frequent final answer over one whose answer differs. The vote
// is the self-reward: no labels are read anywhere.
#include <map>
#include <optional>
#include <random>
#include <regex>
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

// The majority of a pool: the normalised answer held by the most candidates
// (ties: the answer whose best score is higher, then the one met first), and
// within it the candidate with the highest score (the first on ties).
// nullopt when no candidate has an answer.
std::optional<std::size_t> majority_choice(const std::vector<Candidate>& pool) {
  struct Group {
    int count = 0;
    std::size_t best = 0;   ///< highest-scored member
    std::size_t first = 0;  ///< first member, for ties
  };
  std::map<std::string, Group> groups;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    if (pool[i].answer.empty()) continue;
    auto [it, added] = groups.try_emplace(genius::normalize_answer(pool[i].answer), Group{0, i, i});
    Group& g = it->second;
    ++g.count;
    if (!added && pool[i].score > pool[g.best].score) g.best = i;
  }
  const Group* top = nullptr;
  for (const auto& [answer, g] : groups) {
    if (!top || g.count > top->count ||
        (g.count == top->count && (pool[g.best].score > pool[top->best].score ||
                                   (pool[g.best].score == pool[top->best].score && g.first < top->first))))
      top = &g;
  }
  if (!top) return std::nullopt;
  return top->best;
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
        extract_(make_extractor(cfg.get<std::string>("answer_pattern"))) {}

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
  static genius::AnswerExtractor make_extractor(const std::string& pattern) {
    try {
      return genius::AnswerExtractor(pattern);
    } catch (const std::regex_error& e) {
      throw genius::PluginError("self-consistency",
                                "answer_pattern '" + pattern + "' is not a valid regex: " + e.what());
    }
  }

  genius::samplers::WholeResponseOptions options_;
  std::size_t concurrent_queries_;
  genius::AnswerExtractor extract_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(SelfConsistencySampler)
