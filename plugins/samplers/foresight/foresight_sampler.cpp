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

#include <genius/helpers/seeds.hpp>

namespace {

using genius::Candidate;
using genius::ExplorationRecord;
using genius::GenerationRequest;
using genius::GenerationResult;
using genius::ModelBackend;
using genius::PluginError;
using genius::Query;
using genius::StepRecord;
using genius::ValueEstimator;
using genius::samplers::derive_seed;

// Seed streams under Query::seed (docs/samplers.md, "Seeds"):
//   candidate steps of beam b at step t   derive(seed, {1, t, b})
//   rollout of candidate c at step t      derive(seed, {2, t, c})
//   selection RNG of step t               derive(seed, {3, t})
//   final completion of beam b            derive(seed, {4, b})
//   final selection RNG                   derive(seed, {5})
constexpr std::uint64_t kStepStream = 1, kRolloutStream = 2, kSelectionStream = 3, kFinalRolloutStream = 4,
                        kFinalSelectionStream = 5;

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
  if (rule != Selection::Random) {
    const double top = *std::max_element(keys.begin(), keys.end());
    for (std::size_t i = 0; i < n; ++i) weights[i] = std::exp((keys[i] - top) / tau);
  }
  std::mt19937_64 rng(seed);
  while (chosen.size() < count) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!taken[i]) total += weights[i];
    int pick = -1;
    if (total > 0) {
      const double u = genius::samplers::uniform01(rng) * total;
      double running = 0;
      for (std::size_t i = 0; i < n && pick < 0; ++i) {
        if (taken[i] || weights[i] <= 0) continue;
        running += weights[i];
        if (u < running) pick = static_cast<int>(i);
      }
      if (pick < 0)  // u rounded up to the total: the last remaining index with weight
        for (std::size_t i = n; i-- > 0 && pick < 0;)
          if (!taken[i] && weights[i] > 0) pick = static_cast<int>(i);
    } else {
      pick = best_remaining();
    }
    taken[static_cast<std::size_t>(pick)] = true;
    chosen.push_back(pick);
  }
  return chosen;
}

class ForesightSampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Sampler, "foresight", "1.1.0",
                               "Stepwise foresight re-sampling (Genius): K beams, M candidate steps each, one "
                               "foresight rollout per candidate, beams re-sampled from softmax(score / tau)")
            .key("step_beam_size", 2, "K: beams kept per query", genius::at_least(1))
            .key("num_rollout", 4, "M: candidate steps sampled per beam and step", genius::at_least(1))
            .key("num_foresight", 4, "T: most steps explored before the beams are completed", genius::at_least(1))
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
            .key("max_step_tokens", 256, "most tokens of one candidate step", genius::at_least(1))
            .key("max_rollout_tokens", 1024, "most tokens of one rollout or final completion", genius::at_least(1))
            .key("answer_marker", "\\boxed{",
                 "a step containing this text completes its trajectory (\"\" = only end-of-sequence does)")
            .key("concurrent_queries", 8, "queries explored together in one explore() call (batched generation)",
                 genius::at_least(1))
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
        rollouts_(cfg.get<int>("num_rollout")),
        steps_(cfg.get<int>("num_foresight")),
        step_temperature_(cfg.get<double>("step_temperature")),
        rollout_temperature_(cfg.get<double>("rollout_temperature")),
        selection_temperature_(cfg.get<double>("selection_temperature")),
        top_p_(cfg.get<double>("top_p")),
        selection_(parse_selection(cfg.get<std::string>("selection"))),
        light_(cfg.get<bool>("light")),
        light_threshold_(cfg.get<double>("light_threshold")),
        delimiter_(cfg.get<std::string>("step_delimiter")),
        max_step_tokens_(cfg.get<int>("max_step_tokens")),
        max_rollout_tokens_(cfg.get<int>("max_rollout_tokens")),
        answer_marker_(cfg.get<std::string>("answer_marker")),
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
    std::vector<QueryState> states;
    states.reserve(queries.size());
    for (const Query& q : queries) {
      QueryState s;
      s.record.query = q;
      s.chat_prompt = backend.format_chat(q.prompt);
      s.beams.assign(static_cast<std::size_t>(beams_), Beam{});
      states.push_back(std::move(s));
    }
    for (int t = 1; t <= steps_; ++t) {
      if (std::all_of(states.begin(), states.end(), [](const QueryState& s) { return s.finished(); })) break;
      sample_candidate_steps(states, t, backend);
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
  struct Beam {
    std::string text;        ///< the response so far: steps, each followed by the delimiter
                             ///< (a complete beam ends with its last step instead)
    double value = 0.0;      ///< q: the score of the candidate that made the beam (0 at first)
    double advantage = 0.0;  ///< A of that candidate
    double logprob = 0.0;    ///< generation log-prob of the beam's tokens, summed over its steps
    int tokens = 0;
    bool complete = false;
  };

  struct QueryState {
    ExplorationRecord record;
    std::string chat_prompt;      ///< format_chat(query): every prompt is chat_prompt + response text
    std::vector<Beam> beams;      ///< K slots; a complete beam keeps its slot until the end
    std::vector<Candidate> pool;  ///< the current step's candidates
    bool skip_foresight = false;  ///< light mode decided to skip this step's rollouts

    bool finished() const {
      return std::all_of(beams.begin(), beams.end(), [](const Beam& b) { return b.complete; });
    }
    std::vector<double> beam_values() const {
      std::vector<double> v;
      for (const Beam& b : beams) v.push_back(b.value);
      return v;
    }
  };

  // The prompt of a request: the WHOLE text encoded at once (not the prompt's
  // ids followed by the beam's), so the tokens are the ones the tokenizer
  // gives the text, as in training and scoring.
  static std::vector<genius::TokenId> encode(const ModelBackend& backend, const QueryState& s,
                                             const std::string& response) {
    return backend.encode(s.chat_prompt + response);
  }

  // M candidate next steps for every unfinished beam of every query: one
  // generate call, one request (n = M) per beam, stopping at the delimiter.
  void sample_candidate_steps(std::vector<QueryState>& states, int t, ModelBackend& backend) {
    std::vector<GenerationRequest> requests;
    std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, beam) of each request
    for (std::size_t q = 0; q < states.size(); ++q) {
      QueryState& s = states[q];
      s.pool.clear();
      s.skip_foresight = false;
      for (std::size_t b = 0; b < s.beams.size(); ++b) {
        if (s.beams[b].complete) continue;
        GenerationRequest r;
        r.prompt_ids = encode(backend, s, s.beams[b].text);
        r.n = rollouts_;
        r.temperature = step_temperature_;
        r.top_p = top_p_;
        r.max_new_tokens = max_step_tokens_;
        r.stop = {delimiter_};
        r.seed = derive_seed(s.record.query.seed, {kStepStream, static_cast<std::uint64_t>(t), b});
        requests.push_back(std::move(r));
        owner.emplace_back(q, b);
      }
    }
    const std::vector<GenerationResult> results =
        requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
    for (std::size_t r = 0; r < results.size(); ++r) {
      QueryState& s = states[owner[r].first];
      const Beam& beam = s.beams[owner[r].second];
      for (const genius::GeneratedSample& sample : results[r].samples) {
        Candidate c;
        c.parent_beam = static_cast<int>(owner[r].second);
        c.beam_logprob = beam.logprob;
        c.beam_tokens = beam.tokens;
        c.step = sample.text;
        c.step_logprob = sample.cumulative_logprob;  // includes the delimiter (or eos) token that ended it
        c.step_tokens = sample.num_tokens();
        c.complete = sample.finish_reason == genius::FinishReason::Eos ||
                     (!answer_marker_.empty() && c.step.find(answer_marker_) != std::string::npos);
        c.trajectory = beam.text + c.step;
        s.record.generated_tokens += sample.num_tokens();
        s.pool.push_back(std::move(c));
      }
    }
  }

  // One foresight rollout to the end of the response for every candidate that
  // is not complete, for all queries in one generate call. Light mode skips a
  // query's rollouts when all its candidates are confident:
  //   min_i step_logprob_i / step_tokens_i > light_threshold.
  void roll_out(std::vector<QueryState>& states, int t, ModelBackend& backend) {
    std::vector<GenerationRequest> requests;
    std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, candidate) of each request
    for (std::size_t q = 0; q < states.size(); ++q) {
      QueryState& s = states[q];
      if (s.pool.empty()) continue;
      s.skip_foresight = light_ && std::all_of(s.pool.begin(), s.pool.end(), [&](const Candidate& c) {
                           return c.step_logprob / c.step_tokens > light_threshold_;
                         });
      for (std::size_t i = 0; i < s.pool.size(); ++i) {
        Candidate& c = s.pool[i];
        if (c.complete) continue;
        c.trajectory += delimiter_;
        if (s.skip_foresight) continue;
        GenerationRequest r;
        r.prompt_ids = encode(backend, s, c.trajectory);
        r.n = 1;
        r.temperature = rollout_temperature_;
        r.top_p = top_p_;
        r.max_new_tokens = max_rollout_tokens_;
        r.seed = derive_seed(s.record.query.seed, {kRolloutStream, static_cast<std::uint64_t>(t), i});
        requests.push_back(std::move(r));
        owner.emplace_back(q, i);
      }
    }
    const std::vector<GenerationResult> results =
        requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
    for (std::size_t r = 0; r < results.size(); ++r) {
      QueryState& s = states[owner[r].first];
      Candidate& c = s.pool[owner[r].second];
      const genius::GeneratedSample& sample = results[r].samples.front();
      c.rollout = sample.text;
      c.rollout_logprob = sample.cumulative_logprob;
      c.rollout_tokens = sample.num_tokens();
      c.trajectory += c.rollout;
      s.record.generated_tokens += sample.num_tokens();
    }
  }

  // Score the pool (A = score - q(parent)), record the step, and replace each
  // unfinished beam by a drawn candidate: new beam = parent + step + delimiter
  // with q = its score; a complete candidate makes a complete beam.
  void score_and_select(QueryState& s, int t, ModelBackend& backend, ValueEstimator& values) {
    const std::vector<double> parent_values = s.beam_values();
    values.score(s.record.query, s.pool, parent_values, backend);

    std::vector<double> scores, advantages;
    for (const Candidate& c : s.pool) {
      scores.push_back(c.score);
      advantages.push_back(c.advantage);
    }
    const auto open = static_cast<std::size_t>(
        std::count_if(s.beams.begin(), s.beams.end(), [](const Beam& b) { return !b.complete; }));
    const std::vector<int> picked =
        choose(selection_, scores, advantages, open, selection_temperature_,
               derive_seed(s.record.query.seed, {kSelectionStream, static_cast<std::uint64_t>(t)}));

    StepRecord step;
    step.step = t;
    for (const Beam& b : s.beams) step.beams.push_back(b.text);
    step.beam_values = parent_values;
    step.selected = picked;
    step.foresight_skipped = s.skip_foresight;

    std::vector<Beam> next = s.beams;
    std::size_t k = 0;
    for (Beam& slot : next) {
      if (slot.complete) continue;
      const Candidate& c = s.pool[static_cast<std::size_t>(picked[k++])];
      const Beam& parent = s.beams[static_cast<std::size_t>(c.parent_beam)];
      slot.text = parent.text + c.step + (c.complete ? "" : delimiter_);
      slot.value = c.score;
      slot.advantage = c.advantage;
      slot.logprob = parent.logprob + c.step_logprob;
      slot.tokens = parent.tokens + c.step_tokens;
      slot.complete = c.complete;
    }
    s.beams = std::move(next);
    step.candidates = std::move(s.pool);
    s.pool.clear();
    s.record.steps.push_back(std::move(step));
  }

  // Complete every unfinished beam with one rollout (one generate call for all
  // queries), score the completions like candidates with an empty step, and
  // choose the response among the K beams by the selection rule: complete
  // beams compete with their q and A, completed ones with their new score.
  void finish(std::vector<QueryState>& states, ModelBackend& backend, ValueEstimator& values) {
    std::vector<GenerationRequest> requests;
    std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, beam)
    for (std::size_t q = 0; q < states.size(); ++q) {
      QueryState& s = states[q];
      for (std::size_t b = 0; b < s.beams.size(); ++b) {
        if (s.beams[b].complete) continue;
        GenerationRequest r;
        r.prompt_ids = encode(backend, s, s.beams[b].text);
        r.n = 1;
        r.temperature = rollout_temperature_;
        r.top_p = top_p_;
        r.max_new_tokens = max_rollout_tokens_;
        r.seed = derive_seed(s.record.query.seed, {kFinalRolloutStream, b});
        requests.push_back(std::move(r));
        owner.emplace_back(q, b);
      }
    }
    const std::vector<GenerationResult> results =
        requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
    std::vector<std::vector<Candidate>> finals(states.size());
    for (std::size_t r = 0; r < results.size(); ++r) {
      QueryState& s = states[owner[r].first];
      const Beam& beam = s.beams[owner[r].second];
      const genius::GeneratedSample& sample = results[r].samples.front();
      Candidate c;
      c.parent_beam = static_cast<int>(owner[r].second);
      c.beam_logprob = beam.logprob;
      c.beam_tokens = beam.tokens;
      c.rollout = sample.text;
      c.rollout_logprob = sample.cumulative_logprob;
      c.rollout_tokens = sample.num_tokens();
      c.trajectory = beam.text + c.rollout;
      c.complete = true;
      s.record.generated_tokens += sample.num_tokens();
      finals[owner[r].first].push_back(std::move(c));
    }
    for (std::size_t q = 0; q < states.size(); ++q) {
      QueryState& s = states[q];
      values.score(s.record.query, finals[q], s.beam_values(), backend);
      std::vector<std::string> texts;
      std::vector<double> scores, advantages;
      for (const Beam& b : s.beams) {
        texts.push_back(b.text);
        scores.push_back(b.value);
        advantages.push_back(b.advantage);
      }
      for (const Candidate& c : finals[q]) {
        const auto b = static_cast<std::size_t>(c.parent_beam);
        texts[b] = c.trajectory;
        scores[b] = c.score;
        advantages[b] = c.advantage;
      }
      const int pick = choose(selection_, scores, advantages, 1, selection_temperature_,
                              derive_seed(s.record.query.seed, {kFinalSelectionStream}))
                           .front();
      s.record.response = texts[static_cast<std::size_t>(pick)];
    }
  }

  int beams_, rollouts_, steps_;
  double step_temperature_, rollout_temperature_, selection_temperature_, top_p_;
  Selection selection_;
  bool light_;
  double light_threshold_;
  std::string delimiter_;
  int max_step_tokens_, max_rollout_tokens_;
  std::string answer_marker_;
  std::size_t concurrent_queries_;
  genius::PairRule pair_rule_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(ForesightSampler)
