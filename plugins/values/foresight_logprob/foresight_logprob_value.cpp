// `foresight-logprob`: the Genius self-reward, a length-normalised log-prob of
// the candidate's foresight (algorithm.md §2), with a choice of what it covers.
//
// The paper scores only the rollout after the step. embedded-demo.md measured
// why that can be blind: a slip in one arithmetic step is followed by a
// confident, self-consistent continuation, so only a score that contains the
// slipped token (the step, or the whole response) sees it. `scope` picks:
//   rollout       score = lp(rollout) / n(rollout)                       (the paper)
//   step_rollout  score = (lp(step) + lp(rollout)) / (n(step) + n(rollout))
//   response      score = (lp(beam) + lp(step) + lp(rollout)) / (n(beam) + n(step) + n(rollout))
// A candidate without rollout tokens (a complete step, or a light-mode step)
// is scored on what it has: rollout and step_rollout give lp(step) / n(step),
// response gives the beam and the step. A = score - q(parent beam).
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

#include "../common/candidate_checks.hpp"

namespace {

using genius::Candidate;

enum class Scope { Rollout, StepRollout, Response };

class ForesightLogprobValue final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ValueEstimator, "foresight-logprob", "1.0.0",
                               "Genius foresight score: length-normalised log-prob of the rollout (or of step + "
                               "rollout, or of the whole response); A = score - q(parent)")
            .choice("scope", "rollout", {"rollout", "step_rollout", "response"},
                    "tokens the mean log-prob covers: the rollout (the paper), step + rollout, or the whole "
                    "response from its first token");
    return m;
  }

  explicit ForesightLogprobValue(const genius::ConfigView& cfg) : scope_(parse(cfg.get<std::string>("scope"))) {}

  void score(const genius::Query&, std::vector<Candidate>& candidates, const std::vector<double>& parent_values,
             genius::ModelBackend&) override {
    genius::values::check_candidates(name(), candidates, parent_values);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      Candidate& c = candidates[i];
      double logprob = c.step_logprob;
      int tokens = c.step_tokens;
      if (scope_ == Scope::Rollout && c.rollout_tokens > 0) {
        logprob = c.rollout_logprob;
        tokens = c.rollout_tokens;
      } else {
        logprob += c.rollout_logprob;
        tokens += c.rollout_tokens;
        if (scope_ == Scope::Response) {
          logprob += c.beam_logprob;
          tokens += c.beam_tokens;
        }
      }
      if (tokens == 0) throw genius::PluginError(name(), "candidate " + std::to_string(i) + " has no tokens to score");
      c.score = logprob / tokens;
    }
    genius::values::set_advantages(candidates, parent_values);
  }

 private:
  static Scope parse(const std::string& s) {
    if (s == "step_rollout") return Scope::StepRollout;
    if (s == "response") return Scope::Response;
    return Scope::Rollout;  // the manifest allows nothing else
  }

  Scope scope_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(ForesightLogprobValue)
