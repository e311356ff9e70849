// `phi-decoding`: foresight sampling with width and depth pruning and
// cluster-aligned selection (phi-Decoding, arXiv 2503.13288; docs/decoding.md).
//
// Per query, M beams (all empty at first). At each step t = 1..T_max:
//   1. every open beam samples N candidate steps (one line each);
//   2. width pruning: keep the candidates whose mean token log-prob is at
//      least mean - sigma_rate * std over the query's candidates (population
//      std); when fewer than the open beams survive, top up from the pruned
//      ones by softmax(mean log-prob / 0.1) draws without replacement;
//   3. foresight: each kept candidate is rolled out to the end; the [value]
//      estimator scores it (F; `foresight-logprob` with scope "rollout" is the
//      paper's mean rollout log-prob) and the host sets A = F - F(parent);
//   4. alignment: rollouts are clustered by their extracted final answer (the
//      natural cluster on tasks with one answer; the paper's TF-IDF k-means
//      stands in for it on free text); C = the candidate's cluster's share;
//   5. selection: among the candidates with A > 0 (all of them when fewer than
//      the open beams qualify, and then by softmax(A / tau_A) alone), the next
//      beams are drawn without replacement with weight
//         (1 - w) * softmax(A / tau_A) + w * softmax(C / tau_C)   (w = cluster_weight);
//   6. depth pruning: once some step's largest cluster held more than `delta`
//      of the rollouts, the search stops at the first step t >= T_min; it also
//      stops when every selected step is the same text (t > T_min).
// Then every open beam is completed by one rollout, the completions are scored
// like candidates, and the response is drawn from the largest answer cluster
// of the M final trajectories (those with A > 0 when any) by softmax(A / tau_A).
// Defaults are the paper's (M 4, N 4, T_min 4, T_max 8, delta 0.7, sigma 1) and
// its code's temperatures (tau_A 0.1, tau_C 1). Steps are recorded like the
// foresight sampler's, so genius::step_pairs builds pairs from them too.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/helpers/draws.hpp>
#include <genius/helpers/pairs.hpp>
#include <genius/helpers/seeds.hpp>
#include <genius/helpers/step_search.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

namespace {

using genius::Candidate;
using genius::ExplorationRecord;
using genius::ModelBackend;
using genius::Query;
using genius::StepRecord;
using genius::ValueEstimator;
using genius::samplers::derive_seed;

// Seed streams under Query::seed: candidate steps {1, t, b}, rollouts
// {2, t, c} and completions {4, b} as <genius/helpers/step_search.hpp> draws
// them; the width top-up of step t {3, t, 0}, its selection {3, t, 1}; the
// final selection {5}.
constexpr std::uint64_t kSelectionStream = 3, kFinalSelectionStream = 5;

// Cluster shares: candidates with the same normalised answer form a cluster;
// one without an answer is a cluster of its own. share[i] = |cluster(i)| / n.
std::vector<double> cluster_shares(const std::vector<std::string>& answers, double& largest) {
  std::map<std::string, int> sizes;
  for (const std::string& a : answers)
    if (!a.empty()) ++sizes[genius::normalize_answer(a)];
  std::vector<double> share(answers.size());
  largest = 0;
  const auto n = static_cast<double>(answers.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    share[i] = (answers[i].empty() ? 1.0 : sizes[genius::normalize_answer(answers[i])]) / n;
    largest = std::max(largest, share[i]);
  }
  return share;
}

class PhiDecodingSampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Sampler, "phi-decoding", "1.0.0",
                               "phi-Decoding: foresight sampling with width pruning, answer-cluster-aligned "
                               "selection and depth pruning (arXiv 2503.13288)")
            .key("step_beam_size", 4, "M: beams kept per query", genius::between(1, 1024))
            .key("num_rollout", 4, "N: candidate steps sampled per beam and step", genius::between(1, 1024))
            .key("num_foresight", 8, "T_max: most steps searched before the beams are completed",
                 genius::between(1, 4096))
            .key("least_foresight", 4, "T_min: depth pruning stops the search no earlier than this step",
                 genius::at_least(1))
            .key("step_temperature", 0.6, "sampling temperature of the candidate steps", genius::at_least(0.0))
            .key("rollout_temperature", 1.0, "sampling temperature of the rollouts and final completions",
                 genius::at_least(0.0))
            .key("top_p", 1.0, "nucleus mass of every sample (1 = off)", genius::Bounds{0.0, 1.0, false, true})
            .key("width_pruning", true, "drop candidate steps scored below mean - sigma_rate * std")
            .key("sigma_rate", 1.0, "width pruning threshold, in standard deviations below the mean",
                 genius::at_least(0.0))
            .key("depth_pruning", true, "stop searching once the rollouts agree (largest cluster > delta)")
            .key("delta", 0.7, "depth pruning: share of the largest answer cluster that stops the search",
                 genius::between(0.0, 1.0))
            .key("cluster_weight", 0.5, "w: weight of softmax(C / tau_C) in the selection weight",
                 genius::between(0.0, 1.0))
            .key("advantage_temperature", 0.1, "tau_A of softmax(A / tau_A) (the paper's code: 0.1)",
                 genius::at_least(0.0, false))
            .key("cluster_temperature", 1.0, "tau_C of softmax(C / tau_C) (the paper's code: 1)",
                 genius::at_least(0.0, false))
            .key("positive_advantage", true,
                 "select among candidates with A > 0 (the paper's filter; all when too few qualify)")
            .key("answer_pattern", "",
                 "ECMAScript regex whose first group (of the last match) is the answer; \"\" = the last \\boxed{}")
            .key("step_delimiter", "\n", "text that ends a step")
            .size(1)
            .key("max_step_tokens", 256, "most tokens of one candidate step", genius::between(1, 1048576))
            .key("max_rollout_tokens", 1024, "most tokens of one rollout or final completion",
                 genius::between(1, 1048576))
            .key("answer_marker", "\\boxed{",
                 "a step containing this text completes its trajectory (\"\" = only end-of-sequence does)")
            .key("concurrent_queries", 8, "queries decoded together in one explore() call", genius::between(1, 65536));
    return m;
  }

  explicit PhiDecodingSampler(const genius::ConfigView& cfg)
      : beams_(cfg.get<int>("step_beam_size")),
        max_steps_(cfg.get<int>("num_foresight")),
        min_steps_(cfg.get<int>("least_foresight")),
        search_{cfg.get<int>("num_rollout"),
                cfg.get<double>("step_temperature"),
                cfg.get<double>("rollout_temperature"),
                cfg.get<double>("top_p"),
                cfg.get<std::string>("step_delimiter"),
                cfg.get<int>("max_step_tokens"),
                cfg.get<int>("max_rollout_tokens"),
                cfg.get<std::string>("answer_marker")},
        width_pruning_(cfg.get<bool>("width_pruning")),
        sigma_rate_(cfg.get<double>("sigma_rate")),
        depth_pruning_(cfg.get<bool>("depth_pruning")),
        delta_(cfg.get<double>("delta")),
        cluster_weight_(cfg.get<double>("cluster_weight")),
        tau_a_(cfg.get<double>("advantage_temperature")),
        tau_c_(cfg.get<double>("cluster_temperature")),
        positive_only_(cfg.get<bool>("positive_advantage")),
        extract_(genius::plugin_answer_extractor("phi-decoding", cfg.get<std::string>("answer_pattern"))),
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")) {
    if (search_.delimiter.empty()) throw genius::PluginError("phi-decoding", "step_delimiter must not be empty");
  }

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  std::vector<ExplorationRecord> explore(const std::vector<Query>& queries, ModelBackend& backend,
                                         ValueEstimator& values) override {
    std::vector<State> states = genius::samplers::start_search<State>(queries, backend, beams_);
    for (int t = 1; t <= max_steps_; ++t) {
      if (std::all_of(states.begin(), states.end(), [](const State& s) { return !s.searching || s.finished(); })) break;
      genius::samplers::sample_candidate_steps(states, t, backend, search_);
      for (State& s : states) prune_width(s, t);
      genius::samplers::roll_out_candidates(states, t, backend, search_, [](const State&) { return false; });
      for (State& s : states)
        if (!s.pool.empty()) select(s, t, backend, values);
    }
    std::vector<std::vector<Candidate>> finals = genius::samplers::complete_beams(states, backend, search_);
    for (std::size_t q = 0; q < states.size(); ++q) choose_response(states[q], finals[q], backend, values);
    std::vector<ExplorationRecord> records;
    records.reserve(states.size());
    for (State& s : states) records.push_back(std::move(s.record));
    return records;
  }

  std::vector<genius::PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const override {
    return genius::step_pairs(record, seed, genius::PairRule{});
  }

 private:
  struct State : genius::samplers::StepSearch {
    bool agreed = false;  ///< some step's largest cluster held more than delta
  };

  // Width pruning over the query's candidates by mean step log-prob.
  void prune_width(State& s, int t) const {
    if (!width_pruning_ || s.pool.size() <= s.open()) return;
    const auto n = static_cast<double>(s.pool.size());
    std::vector<double> mean_lp;
    for (const Candidate& c : s.pool) mean_lp.push_back(c.step_logprob / std::max(1, c.step_tokens));
    double mean = 0, var = 0;
    for (double v : mean_lp) mean += v / n;
    for (double v : mean_lp) var += (v - mean) * (v - mean) / n;
    const double threshold = mean - sigma_rate_ * std::sqrt(var);
    std::vector<int> kept, pruned;
    for (std::size_t i = 0; i < s.pool.size(); ++i) (mean_lp[i] >= threshold ? kept : pruned).push_back(int(i));
    if (kept.size() < s.open()) {
      std::vector<double> keys;
      for (int i : pruned) keys.push_back(mean_lp[std::size_t(i)]);
      std::mt19937_64 rng(derive_seed(s.record.query.seed, {kSelectionStream, std::uint64_t(t), 0}));
      for (int j : genius::samplers::draw_without_replacement(genius::samplers::softmax_weights(keys, 0.1), keys,
                                                              s.open() - kept.size(), rng))
        kept.push_back(pruned[std::size_t(j)]);
      std::sort(kept.begin(), kept.end());
    }
    std::vector<Candidate> pool;
    for (int i : kept) pool.push_back(std::move(s.pool[std::size_t(i)]));
    s.pool = std::move(pool);
  }

  // The selection weights of `members` of the pool (indices), by A and by
  // their answer cluster's share among the members.
  std::vector<double> selection_weights(const std::vector<Candidate>& pool, const std::vector<int>& members,
                                        bool with_clusters, double& largest) const {
    std::vector<double> a;
    std::vector<std::string> answers;
    for (int i : members) {
      a.push_back(pool[std::size_t(i)].advantage);
      answers.push_back(pool[std::size_t(i)].answer);
    }
    const std::vector<double> share = cluster_shares(answers, largest);
    std::vector<double> wa = genius::samplers::softmax_weights(a, tau_a_);
    const double sum_a = std::accumulate(wa.begin(), wa.end(), 0.0);
    if (!with_clusters || cluster_weight_ == 0) return wa;
    const std::vector<double> wc = genius::samplers::softmax_weights(share, tau_c_);
    const double sum_c = std::accumulate(wc.begin(), wc.end(), 0.0);
    std::vector<double> w(members.size());
    for (std::size_t k = 0; k < w.size(); ++k)
      w[k] = (1 - cluster_weight_) * wa[k] / sum_a + cluster_weight_ * wc[k] / sum_c;
    return w;
  }

  void select(State& s, int t, ModelBackend& backend, ValueEstimator& values) {
    const std::vector<double> parent_values = s.beam_values();
    values.score(s.record.query, s.pool, parent_values, backend);
    for (Candidate& c : s.pool) c.answer = extract_(c.trajectory).value_or("");

    std::vector<int> all(s.pool.size()), positive;
    for (std::size_t i = 0; i < s.pool.size(); ++i) {
      all[i] = static_cast<int>(i);
      if (s.pool[i].advantage > 0) positive.push_back(static_cast<int>(i));
    }
    const std::size_t open = s.open();
    const bool clustered = !positive_only_ || positive.size() >= open;
    const std::vector<int>& members = positive_only_ && clustered ? positive : all;
    double largest = 0;
    const std::vector<double> weights = selection_weights(s.pool, members, clustered, largest);
    std::vector<double> keys;
    for (int i : members) keys.push_back(s.pool[std::size_t(i)].advantage);
    std::mt19937_64 rng(derive_seed(s.record.query.seed, {kSelectionStream, std::uint64_t(t), 1}));
    std::vector<int> picked;
    for (int k : genius::samplers::draw_without_replacement(weights, keys, open, rng))
      picked.push_back(members[std::size_t(k)]);
    if (clustered && largest > delta_) s.agreed = true;

    bool same_steps = picked.size() > 1;
    for (int i : picked) same_steps = same_steps && s.pool[std::size_t(i)].step == s.pool[std::size_t(picked[0])].step;
    s.record.steps.push_back(genius::samplers::advance_beams(s, t, parent_values, picked, search_.delimiter));
    if (depth_pruning_ && ((s.agreed && t >= min_steps_) || (same_steps && t > min_steps_))) s.searching = false;
  }

  // The final trajectory of each beam (a completion, or the beam itself when
  // it finished during the search), then a draw from the largest answer
  // cluster by softmax(A / tau_A).
  void choose_response(State& s, std::vector<Candidate>& finals, ModelBackend& backend, ValueEstimator& values) const {
    values.score(s.record.query, finals, s.beam_values(), backend);
    const genius::samplers::FinalTrajectories f = genius::samplers::final_trajectories(s, finals);
    const std::vector<std::string>& texts = f.texts;
    const std::vector<double>& advantages = f.advantages;
    std::vector<int> members;
    for (std::size_t b = 0; b < texts.size(); ++b)
      if (advantages[b] > 0 || !positive_only_) members.push_back(int(b));
    if (members.empty())
      for (std::size_t b = 0; b < texts.size(); ++b) members.push_back(int(b));
    std::map<std::string, std::vector<int>> clusters;  // answer -> members ("" = no answer: not a cluster)
    for (int b : members)
      if (auto a = extract_(texts[std::size_t(b)]); a && !a->empty())
        clusters[genius::normalize_answer(*a)].push_back(b);
    const std::vector<int>* largest = &members;
    for (const auto& [answer, group] : clusters)
      if (largest == &members || group.size() > largest->size()) largest = &group;
    std::vector<double> keys;
    for (int b : *largest) keys.push_back(advantages[std::size_t(b)]);
    std::mt19937_64 rng(derive_seed(s.record.query.seed, {kFinalSelectionStream}));
    const int pick = (*largest)[std::size_t(
        genius::samplers::draw_without_replacement(genius::samplers::softmax_weights(keys, tau_a_), keys, 1, rng)
            .front())];
    s.record.response = texts[std::size_t(pick)];
  }

  int beams_, max_steps_, min_steps_;
  genius::samplers::StepSearchOptions search_;
  bool width_pruning_;
  double sigma_rate_;
  bool depth_pruning_;
  double delta_, cluster_weight_, tau_a_, tau_c_;
  bool positive_only_;
  genius::AnswerExtractor extract_;
  std::size_t concurrent_queries_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(PhiDecodingSampler)
