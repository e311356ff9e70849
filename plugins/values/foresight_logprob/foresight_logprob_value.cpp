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
// Scores within one pool are compared with each other (the chosen side is the
// highest, the next beams are drawn from their softmax), so every member of a
// pool is scored on the same basis. A candidate that completes the response
// (or a light-mode step) has no rollout: under `rollout`, a pool that holds
// such a member is scored on step + rollout for EVERY member, which for the
// complete ones is their step alone; a pool whose members all have rollouts is
// scored on the rollouts, as the paper. `step_rollout` and `response` cover
// the same parts of every member anyway. A = score - q(parent beam).
#include <algorithm>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

namespace {

using genius::Candidate;

enum class Scope { Rollout, StepRollout, Response };

class ForesightLogprobValue final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ValueEstimator, "foresight-logprob", "1.1.0",
                               "Genius foresight score: length-normalised log-prob of the rollout (or of step + "
                               "rollout, or of the whole response); A = score - q(parent)")
            .choice("scope", "rollout", {"rollout", "step_rollout", "response"},
                    "tokens the mean log-prob covers: the rollout (the paper), step + rollout, or the whole "
                    "response from its first token");
    return m;
  }

  explicit ForesightLogprobValue(const genius::ConfigView& cfg) : scope_(parse(cfg.get<std::string>("scope"))) {}

  void score(const genius::Query&, std::vector<Candidate>& candidates, const std::vector<double>& /*parent_values*/,
             genius::ModelBackend&) override {
    const bool rollouts_only =
        scope_ == Scope::Rollout &&
        std::all_of(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.rollout_tokens > 0; });
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      Candidate& c = candidates[i];
      double logprob = c.rollout_logprob;
      int tokens = c.rollout_tokens;
      if (!rollouts_only) {
        logprob += c.step_logprob;
        tokens += c.step_tokens;
      }
      if (scope_ == Scope::Response) {
        logprob += c.beam_logprob;
        tokens += c.beam_tokens;
      }
      if (tokens == 0) throw genius::PluginError(name(), "candidate " + std::to_string(i) + " has no tokens to score");
      c.score = logprob / tokens;
    }
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
