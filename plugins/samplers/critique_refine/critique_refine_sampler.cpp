// `critique-refine`: critique-in-the-loop exploration and decoding with no
// labels (AutoMathCritique, arXiv 2411.16579; docs/critique.md).
//
// Per query: n whole responses; the critic (the [critic] model) judges every
// step of each (<genius/helpers/critique.hpp>) and flags the first step it
// calls wrong. For `rounds` rounds, every flagged response is refined: its
// steps before the flagged one are kept and the rest is sampled again from
// there; the critic judges the refinement, which replaces the response. The
// answer is the majority answer among the responses the critic accepts (no
// step flagged), or among all of them when it accepts none; the response is
// the accepted member of that answer the critic trusts most. With rounds = 0
// this is critic-filtered majority voting.
//
// The actor reads no critique text: it was never taught to, so "refine" is
// resampling from the flagged step, which the critic's step-level verdict makes
// possible. `refine_at = "random"` refines the same responses at a uniformly
// drawn step instead: the control that says whether the critic's location
// matters.
//
// Record: step 1 holds the n responses (selected = the accepted ones); step
// r + 1 holds round r's refinements, parent_beam = the slot refined, beams =
// the n responses before the round (selected = the accepted refinements).
// Scores come from the [value] estimator (`critic` with scope "trajectory" is
// the natural one). Pairs: (accepted refinement, the flagged response it was
// refined from), which share their text up to the flagged step; weights are
// the two scores, as in a whole-response pool.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/helpers/critique.hpp>
#include <genius/helpers/seeds.hpp>
#include <genius/helpers/whole_responses.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

namespace {

using genius::Candidate;
using genius::ExplorationRecord;
using genius::ModelBackend;
using genius::Query;
using genius::StepRecord;
using genius::samplers::derive_seed;
namespace critique = genius::critique;

// Seed streams under Query::seed: responses derive(seed, {1}) (whole_responses);
// refinement of slot i in round r derive(seed, {2, r, i}); its random step
// (refine_at = "random") derive(seed, {3, r, i}).
constexpr std::uint64_t kRefineStream = 2, kRandomStepStream = 3;

class CritiqueRefineSampler final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::samplers::add_whole_response_keys(
            genius::PluginManifest(genius::PluginKind::Sampler, "critique-refine", "1.0.0",
                                   "n responses, the critic flags each one's first wrong step, flagged ones are "
                                   "resampled from there for R rounds; majority over critic-accepted answers; pair "
                                   "= (accepted refinement, flagged original)"))
            .uses_model("critic")
            .key("rounds", 1, "R: refinement rounds (0 = critic-filtered majority voting)", genius::at_least(0))
            .key("threshold", 0.5, "a step is flagged when the critic's p(correct) is below this",
                 genius::between(0.0, 1.0))
            .choice("refine_at", "flagged", {"flagged", "random"},
                    "where a flagged response is resampled from: the flagged step, or a uniformly drawn one "
                    "(the control)")
            .key("step_delimiter", "\n", "text between steps")
            .size(1)
            .key("answer_pattern", "",
                 "ECMAScript regex whose first group (of the last match) is the answer; \"\" = the last \\boxed{}");
    return m;
  }

  explicit CritiqueRefineSampler(const genius::ConfigView& cfg)
      : options_{cfg.get<int>("n"), cfg.get<double>("temperature"), cfg.get<double>("top_p"),
                 cfg.get<int>("max_tokens")},
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")),
        rounds_(cfg.get<int>("rounds")),
        threshold_(cfg.get<double>("threshold")),
        random_step_(cfg.get<std::string>("refine_at") == "random"),
        delimiter_(cfg.get<std::string>("step_delimiter")),
        extract_(genius::plugin_answer_extractor("critique-refine", cfg.get<std::string>("answer_pattern"))) {
    if (delimiter_.empty()) throw genius::PluginError("critique-refine", "step_delimiter must not be empty");
  }

  void attach_model(const std::string& role, ModelBackend& model) override {
    if (role != "critic") return Sampler::attach_model(role, model);
    critic_ = &model;
  }

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  std::vector<ExplorationRecord> explore(const std::vector<Query>& queries, ModelBackend& backend,
                                         genius::ValueEstimator& values) override {
    if (!critic_) throw genius::PluginError(name(), "no [critic] model was attached");
    std::vector<ExplorationRecord> records = genius::samplers::sample_whole_responses(queries, backend, options_);
    std::vector<std::vector<Slot>> slots(records.size());
    std::vector<std::pair<std::size_t, std::size_t>> all;
    for (std::size_t q = 0; q < records.size(); ++q) {
      StepRecord& step = records[q].steps.front();
      values.score(records[q].query, step.candidates, step.beam_values, backend);
      for (std::size_t i = 0; i < step.candidates.size(); ++i) {
        slots[q].push_back({step.candidates[i].trajectory, step.candidates[i].score});
        all.emplace_back(q, i);
      }
    }
    judge(records, slots, all);
    for (std::size_t q = 0; q < records.size(); ++q)
      for (std::size_t i = 0; i < slots[q].size(); ++i)
        if (slots[q][i].flagged < 0) records[q].steps.front().selected.push_back(static_cast<int>(i));
    for (int r = 1; r <= rounds_; ++r)
      if (!refine(records, slots, r, backend, values)) break;
    for (std::size_t q = 0; q < records.size(); ++q) records[q].response = final_response(slots[q]);
    return records;
  }

  std::vector<genius::PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t) const override {
    std::vector<genius::PreferencePair> pairs;
    if (record.steps.empty()) return pairs;
    const auto& first = record.steps.front().candidates;
    double mean = 0;
    for (const Candidate& c : first) mean += c.score;
    if (!first.empty()) mean /= static_cast<double>(first.size());
    for (std::size_t s = 1; s < record.steps.size(); ++s) {
      const StepRecord& step = record.steps[s];
      for (int index : step.selected) {
        const Candidate& refined = step.candidates.at(std::size_t(index));
        const auto parent = static_cast<std::size_t>(refined.parent_beam);
        genius::PreferencePair p;
        p.query_id = record.query.id;
        p.step = step.step;
        p.prompt = record.query.prompt;
        p.chosen = refined.trajectory;
        p.rejected = step.beams.at(parent);
        p.chosen_weight = refined.score;
        p.rejected_weight = step.beam_values.at(parent);
        p.chosen_average_weight = mean;
        if (p.chosen != p.rejected) pairs.push_back(std::move(p));
      }
    }
    return pairs;
  }

 private:
  struct Slot {
    std::string text;
    double score = 0;
    int flagged = -1;       ///< the critic's first wrong step; -1 = accepted
    double p_correct = 0;   ///< the critic's P(every step correct)
    std::size_t steps = 0;  ///< number of steps
  };

  // The critic's verdict on the slots listed in `which` ((query, slot) pairs), in one pass.
  void judge(const std::vector<ExplorationRecord>& records, std::vector<std::vector<Slot>>& slots,
             const std::vector<std::pair<std::size_t, std::size_t>>& which) {
    std::vector<critique::Solution> solutions;
    for (const auto& [q, i] : which)
      solutions.push_back({records[q].query.prompt, critique::split_steps(slots[q][i].text, delimiter_)});
    const std::vector<critique::Verdicts> verdicts = critique::judge(*critic_, solutions);
    for (std::size_t k = 0; k < which.size(); ++k) {
      Slot& slot = slots[which[k].first][which[k].second];
      slot.flagged = solutions[k].steps.empty() ? 0 : verdicts[k].first_error(threshold_);
      slot.p_correct = verdicts[k].p_correct();
      slot.steps = solutions[k].steps.size();
    }
  }

  // One round: resample every flagged slot from its flagged (or a random)
  // step, score and judge the refinements, record them. False when no slot was flagged.
  bool refine(std::vector<ExplorationRecord>& records, std::vector<std::vector<Slot>>& slots, int round,
              ModelBackend& backend, genius::ValueEstimator& values) {
    std::vector<genius::GenerationRequest> requests;
    std::vector<std::pair<std::size_t, std::size_t>> owner;
    std::vector<std::string> prefixes;
    for (std::size_t q = 0; q < records.size(); ++q)
      for (std::size_t i = 0; i < slots[q].size(); ++i) {
        const Slot& slot = slots[q][i];
        if (slot.flagged < 0) continue;
        int at = slot.flagged;
        if (random_step_ && slot.steps > 0) {
          std::mt19937_64 rng(derive_seed(records[q].query.seed, {kRandomStepStream, std::uint64_t(round), i}));
          at = static_cast<int>(rng() % slot.steps);
        }
        const std::vector<std::string> steps = critique::split_steps(slot.text, delimiter_);
        std::string prefix;
        for (int k = 0; k < at && k < int(steps.size()); ++k) prefix += steps[std::size_t(k)] + delimiter_;
        genius::GenerationRequest r;
        r.prompt_ids = backend.encode(backend.format_chat(records[q].query.prompt) + prefix);
        r.n = 1;
        r.temperature = options_.temperature;
        r.top_p = options_.top_p;
        r.max_new_tokens = options_.max_tokens;
        r.seed = derive_seed(records[q].query.seed, {kRefineStream, std::uint64_t(round), i});
        requests.push_back(std::move(r));
        owner.emplace_back(q, i);
        prefixes.push_back(std::move(prefix));
      }
    if (requests.empty()) return false;
    const std::vector<genius::GenerationResult> results = backend.generate(requests);
    std::vector<StepRecord> steps(records.size());
    for (std::size_t q = 0; q < records.size(); ++q) {
      steps[q].step = round + 1;
      for (const Slot& s : slots[q]) steps[q].beams.push_back(s.text), steps[q].beam_values.push_back(s.score);
    }
    std::vector<std::vector<std::size_t>> slot_of(records.size());
    for (std::size_t r = 0; r < results.size(); ++r) {
      const auto [q, i] = owner[r];
      const genius::GeneratedSample& sample = results[r].samples.front();
      Candidate c;
      c.parent_beam = static_cast<int>(i);
      c.step = sample.text;
      c.step_logprob = sample.cumulative_logprob;
      c.step_tokens = sample.num_tokens();
      c.trajectory = prefixes[r] + sample.text;
      c.complete = true;
      records[q].generated_tokens += sample.num_tokens();
      steps[q].candidates.push_back(std::move(c));
      slot_of[q].push_back(i);
    }
    std::vector<std::pair<std::size_t, std::size_t>> refined;
    for (std::size_t q = 0; q < records.size(); ++q) {
      if (steps[q].candidates.empty()) continue;
      values.score(records[q].query, steps[q].candidates, steps[q].beam_values, backend);
      for (std::size_t k = 0; k < steps[q].candidates.size(); ++k) {
        Slot& slot = slots[q][slot_of[q][k]];
        slot.text = steps[q].candidates[k].trajectory;
        slot.score = steps[q].candidates[k].score;
        refined.emplace_back(q, slot_of[q][k]);
      }
    }
    judge(records, slots, refined);
    for (std::size_t q = 0; q < records.size(); ++q) {
      if (steps[q].candidates.empty()) continue;
      for (std::size_t k = 0; k < slot_of[q].size(); ++k)
        if (slots[q][slot_of[q][k]].flagged < 0) steps[q].selected.push_back(static_cast<int>(k));
      records[q].steps.push_back(std::move(steps[q]));
    }
    return true;
  }

  // The majority answer among the accepted slots (all slots when none is
  // accepted), keyed by the critic's P(all correct) (genius::majority_choice),
  // and its member the critic trusts most; without any answer, the most
  // trusted slot.
  std::string final_response(const std::vector<Slot>& slots) const {
    if (slots.empty()) return {};
    const bool any_accepted = std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.flagged < 0; });
    std::vector<std::string> answers;
    std::vector<double> trust;
    std::size_t trusted = slots.size();
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const bool eligible = !any_accepted || slots[i].flagged < 0;
      answers.push_back(eligible ? extract_(slots[i].text).value_or("") : "");
      trust.push_back(slots[i].p_correct);
      if (eligible && (trusted == slots.size() || slots[i].p_correct > slots[trusted].p_correct)) trusted = i;
    }
    return slots[genius::majority_choice(answers, trust).value_or(trusted)].text;
  }

  genius::samplers::WholeResponseOptions options_;
  std::size_t concurrent_queries_;
  int rounds_;
  double threshold_;
  bool random_step_;
  std::string delimiter_;
  genius::AnswerExtractor extract_;
  ModelBackend* critic_ = nullptr;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(CritiqueRefineSampler)
