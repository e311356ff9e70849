// `foresight`: stepwise foresight re-sampling, the explore stage of Genius
// (arXiv 2504.08672; algorithm.md §2, docs/samplers.md).
//
// Each query keeps K beams (partial responses). At every step each unfinished
// beam proposes M candidate next steps; each candidate is rolled out once to
// the end of the response (its foresight), the value estimator scores it, and
// K' next beams (K' = the unfinished beams) are drawn without replacement
// from softmax(score / selection_temperature). All queries of one explore()
// call advance together: one backend.generate call for the candidate steps of
// a step and one for its rollouts, so the backend always sees large batches.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/pairs.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

#include <genius/helpers/draws.hpp>
#include <genius/helpers/seeds.hpp>
#include <genius/helpers/step_search.hpp>

namespace {

using genius::Candidate;
using genius::ExplorationRecord;
using genius::ModelBackend;
using genius::PluginError;
using genius::Query;
using genius::StepRecord;
using genius::ValueEstimator;
using genius::samplers::derive_seed;

// Seed streams under Query::seed (docs/samplers.md, "Seeds"):
//   candidate steps of beam b at step t   derive(seed, {1, t, b})   (step_search.hpp)
//   rollout of candidate c at step t      derive(seed, {2, t, c})   (step_search.hpp)
//   selection RNG of step t               derive(seed, {3, t})
//   final completion of beam b            derive(seed, {4, b})      (step_search.hpp)
//   final selection RNG                   derive(seed, {5})
constexpr std::uint64_t kSelectionStream = 3, kFinalSelectionStream = 5;

enum class Selection { Foresight, Highest, Random, Advantage };

Selection parse_selection(const std::string& s) {
  if (s == "highest") return Selection::Highest;
  if (s == "random") return Selection::Random;
  if (s == "advantage") return Selection::Advantage;
  return Selection::Foresight;  // the manifest allows nothing else
}

// `rejected` and `rejected_copies` as step_pairs' rule; "distinct" is the
// earlier name of "random" with copies skipped.
genius::PairRule parse_pair_rule(const std::string& rejected, const std::string& copies, double tau) {
  genius::PairRule rule;
  rule.temperature = tau;
  rule.skip_copies = copies == "skip" || rejected == "distinct";
  if (rejected == "random" || rejected == "distinct")
    rule.rejected = genius::RejectedRule::Random;
  else if (rejected == "lowest")
    rule.rejected = genius::RejectedRule::Lowest;
  else
    rule.rejected = genius::RejectedRule::Softmax;  // the manifest allows nothing else
  return rule;
}

// Choose `count` distinct indices of a pool without replacement, one draw at a
// time (numpy's choice(replace=False) procedure), from an mt19937_64 seeded
// with `seed`:
//   foresight  weights w_i = exp((score_i - max score) / tau)  = softmax(score / tau)
//   advantage  weights w_i = exp((A_i - max A) / tau)           = softmax(A / tau)
//   random     weights w_i = 1
//   highest    no draw: the `count` highest scores, the first on ties
// Each draw takes u = uniform01(rng) * (sum of the remaining weights) and picks
// the first remaining index whose running weight sum exceeds u. When every
// remaining weight has underflowed to 0 it takes the remaining index with the
// highest key instead (the tau -> 0 limit of the draw), consuming no number.
std::vector<int> choose(Selection rule, const std::vector<double>& scores, const std::vector<double>& advantages,
                        std::size_t count, double tau, std::uint64_t seed) {
  const std::size_t n = scores.size();
  count = std::min(count, n);
  const std::vector<double>& keys = rule == Selection::Advantage ? advantages : scores;
  std::vector<int> chosen;
  std::vector<bool> taken(n, false);
  auto best_remaining = [&] {
    int best = -1;
    for (std::size_t i = 0; i < n; ++i)
      if (!taken[i] && (best < 0 || keys[i] > keys[static_cast<std::size_t>(best)])) best = static_cast<int>(i);
    return best;
  };
  if (rule == Selection::Highest) {
    while (chosen.size() < count) {
      const int i = best_remaining();
      taken[static_cast<std::size_t>(i)] = true;
      chosen.push_back(i);
    }
    return chosen;
  }
  std::vector<double> weights(n, 1.0);
  if (rule != Selection::Random) weights = genius::samplers::softmax_weights(keys, tau);
  std::mt19937_64 rng(seed);
  return genius::samplers::draw_without_replacement(weights, keys, count, rng);
}

class ForesightSampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Sampler, "foresight", "1.1.0",
                               "Stepwise foresight re-sampling (Genius): K beams, M candidate steps each, one "
                               "foresight rollout per candidate, beams re-sampled from softmax(score / tau)")
            .key("step_beam_size", 2, "K: beams kept per query", genius::between(1, 1024))
            .key("num_rollout", 4, "M: candidate steps sampled per beam and step", genius::between(1, 1024))
            .key("num_foresight", 4, "T: most steps explored before the beams are completed", genius::between(1, 4096))
            .key("step_temperature", 0.6, "sampling temperature of the candidate steps (0 = greedy)",
                 genius::at_least(0.0))
            .key("rollout_temperature", 1.0,
                 "sampling temperature of the foresight rollouts and final completions (0 = greedy)",
                 genius::at_least(0.0))
            .key("selection_temperature", 0.1, "tau of the selection softmax over scores (or advantages)",
                 genius::at_least(0.0, false))
            .key("top_p", 1.0, "nucleus mass of every sample (1 = off)", genius::Bounds{0.0, 1.0, false, true})
            .choice("selection", "foresight", {"foresight", "highest", "random", "advantage"},
                    "how the next beams are chosen: softmax(score/tau) draw, top K, uniform, softmax(A/tau) draw")
            .key("light", false, "skip a step's rollouts when every candidate is confident (light_threshold)")
            .key("light_threshold", -0.25,
                 "light mode: rollouts are skipped when every candidate's step_logprob / step_tokens exceeds this")
            .key("step_delimiter", "\n", "text that ends a step (a stop string of the candidate steps)")
            .size(1)
            .key("max_step_tokens", 256, "most tokens of one candidate step", genius::between(1, 1048576))
            .key("max_rollout_tokens", 1024, "most tokens of one rollout or final completion",
                 genius::between(1, 1048576))
            .key("answer_marker", "\\boxed{",
                 "a step containing this text completes its trajectory (\"\" = only end-of-sequence does)")
            .key("concurrent_queries", 8, "queries explored together in one explore() call (batched generation)",
                 genius::between(1, 65536))
            .choice("rejected", "softmax", {"softmax", "random", "lowest", "distinct"},
                    "each step's rejected trajectory among the rest of the pool: drawn from softmax(score / "
                    "selection_temperature) (the paper, Eq. 5), drawn uniformly (the released code), the lowest "
                    "score, or \"distinct\" (= random with rejected_copies = \"skip\")")
            .choice("rejected_copies", "skip", {"skip", "keep"},
                    "whether members whose text equals the chosen one may be the rejected side (a pair of a "
                    "response with itself carries no preference); \"keep\" is the paper's and its code's literal "
                    "rule");
    return m;
  }

  explicit ForesightSampler(const genius::ConfigView& cfg)
      : beams_(cfg.get<int>("step_beam_size")),
        steps_(cfg.get<int>("num_foresight")),
        selection_temperature_(cfg.get<double>("selection_temperature")),
        selection_(parse_selection(cfg.get<std::string>("selection"))),
        light_(cfg.get<bool>("light")),
        light_threshold_(cfg.get<double>("light_threshold")),
        delimiter_(cfg.get<std::string>("step_delimiter")),
        search_{cfg.get<int>("num_rollout"),
                cfg.get<double>("step_temperature"),
                cfg.get<double>("rollout_temperature"),
                cfg.get<double>("top_p"),
                delimiter_,
                cfg.get<int>("max_step_tokens"),
                cfg.get<int>("max_rollout_tokens"),
                cfg.get<std::string>("answer_marker")},
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")),
        pair_rule_(parse_pair_rule(cfg.get<std::string>("rejected"), cfg.get<std::string>("rejected_copies"),
                                   selection_temperature_)) {
    // Without a delimiter a "step" would run to max_step_tokens: no steps at all.
    if (delimiter_.empty()) throw PluginError("foresight", "step_delimiter must not be empty");
    if (cfg.get<std::string>("rejected") == "distinct" && cfg.get<std::string>("rejected_copies") == "keep")
      throw PluginError("foresight",
                        "rejected = \"distinct\" skips copies of the chosen text by definition; with "
                        "rejected_copies = \"keep\" use rejected = \"random\"");
  }

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  std::vector<ExplorationRecord> explore(const std::vector<Query>& queries, ModelBackend& backend,
                                         ValueEstimator& values) override {
    std::vector<QueryState> states = genius::samplers::start_search<QueryState>(queries, backend, beams_);
    for (int t = 1; t <= steps_; ++t) {
      if (std::all_of(states.begin(), states.end(), [](const QueryState& s) { return s.finished(); })) break;
      genius::samplers::sample_candidate_steps(states, t, backend, search_);
      roll_out(states, t, backend);
      for (QueryState& s : states)
        if (!s.pool.empty()) score_and_select(s, t, backend, values);
    }
    finish(states, backend, values);
    std::vector<ExplorationRecord> records;
    records.reserve(states.size());
    for (QueryState& s : states) records.push_back(std::move(s.record));
    return records;
  }

  // The re-sampling of §3 (genius::step_pairs) over the recorded steps. A
  // light-mode step whose rollouts were skipped holds partial trajectories
  // (beam + step + delimiter), not whole responses, so it gives no pair (the reference
  // records no trajectories for such a step either).
  std::vector<genius::PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const override {
    ExplorationRecord whole = record;
    whole.steps.erase(
        std::remove_if(whole.steps.begin(), whole.steps.end(), [](const StepRecord& s) { return s.foresight_skipped; }),
        whole.steps.end());
    return genius::step_pairs(whole, seed, pair_rule_);
  }

 private:
  struct QueryState : genius::samplers::StepSearch {
    bool skip_foresight = false;  ///< light mode decided to skip this step's rollouts
  };

  // One foresight rollout per candidate that is not complete. Light mode skips
  // a query's rollouts when all its candidates are confident:
  //   min_i step_logprob_i / step_tokens_i > light_threshold.
  void roll_out(std::vector<QueryState>& states, int t, ModelBackend& backend) {
    for (QueryState& s : states)
      s.skip_foresight =
          light_ && !s.pool.empty() && std::all_of(s.pool.begin(), s.pool.end(), [&](const Candidate& c) {
            return c.step_logprob / c.step_tokens > light_threshold_;
          });
    genius::samplers::roll_out_candidates(states, t, backend, search_,
                                          [](const QueryState& s) { return s.skip_foresight; });
  }

  // Score the pool (A = score - q(parent)), record the step, and replace each
  // unfinished beam by a drawn candidate (genius::samplers::advance_beams).
  void score_and_select(QueryState& s, int t, ModelBackend& backend, ValueEstimator& values) {
    const std::vector<double> parent_values = s.beam_values();
    values.score(s.record.query, s.pool, parent_values, backend);
    std::vector<double> scores, advantages;
    for (const Candidate& c : s.pool) {
      scores.push_back(c.score);
      advantages.push_back(c.advantage);
    }
    const std::vector<int> picked =
        choose(selection_, scores, advantages, s.open(), selection_temperature_,
               derive_seed(s.record.query.seed, {kSelectionStream, static_cast<std::uint64_t>(t)}));
    StepRecord step = genius::samplers::advance_beams(s, t, parent_values, picked, delimiter_);
    step.foresight_skipped = s.skip_foresight;
    s.record.steps.push_back(std::move(step));
  }

  // Complete every unfinished beam with one rollout, score the completions
  // like candidates with an empty step, and choose the response among the K
  // beams by the selection rule: complete beams compete with their q and A,
  // completed ones with their new score.
  void finish(std::vector<QueryState>& states, ModelBackend& backend, ValueEstimator& values) {
    std::vector<std::vector<Candidate>> finals = genius::samplers::complete_beams(states, backend, search_);
    for (std::size_t q = 0; q < states.size(); ++q) {
      QueryState& s = states[q];
      values.score(s.record.query, finals[q], s.beam_values(), backend);
      const genius::samplers::FinalTrajectories f = genius::samplers::final_trajectories(s, finals[q]);
      const int pick = choose(selection_, f.scores, f.advantages, 1, selection_temperature_,
                              derive_seed(s.record.query.seed, {kFinalSelectionStream}))
                           .front();
      s.record.response = f.texts[static_cast<std::size_t>(pick)];
    }
  }

  int beams_, steps_;
  double selection_temperature_;
  Selection selection_;
  bool light_;
  double light_threshold_;
  std::string delimiter_;
  genius::samplers::StepSearchOptions search_;
  std::size_t concurrent_queries_;
  genius::PairRule pair_rule_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(ForesightSampler)
