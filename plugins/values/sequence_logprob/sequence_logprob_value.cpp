// `sequence-logprob`: the mean log-prob of the whole response, the self-reward
// of best-of-n (embedded-demo.md: on the demo task the higher-scored of two
// whole responses was the correct one 81% of the time).
//   score = (lp(beam) + lp(step) + lp(rollout)) / (n(beam) + n(step) + n(rollout))
//   A     = score - q(parent beam)
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

namespace {

class SequenceLogprobValue final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::PluginManifest(genius::PluginKind::ValueEstimator, "sequence-logprob", "1.0.0",
                                                 "mean token log-prob of the whole response (beam + step + "
                                                 "rollout); A = score - q(parent)");
    return m;
  }

  explicit SequenceLogprobValue(const genius::ConfigView&) {}

  void score(const genius::Query&, std::vector<genius::Candidate>& candidates,
             const std::vector<double>& /*parent_values*/, genius::ModelBackend&) override {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      genius::Candidate& c = candidates[i];
      const int tokens = c.beam_tokens + c.step_tokens + c.rollout_tokens;
      if (tokens == 0) throw genius::PluginError(name(), "candidate " + std::to_string(i) + " has no tokens to score");
      c.score = (c.beam_logprob + c.step_logprob + c.rollout_logprob) / tokens;
    }
  }
};

}  // namespace

GENIUS_REGISTER_PLUGIN(SequenceLogprobValue)
