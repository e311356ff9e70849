// @NAME@: a value estimator for Genius (scaffolded by `genius new-plugin`).
//
// Scores a candidate by the model's own confidence in the whole response,
// with a length normalisation (GNMT-style exponent alpha):
//   lp    = lp(beam) + lp(step) + lp(rollout)        (summed token log-probs)
//   n     = n(beam)  + n(step)  + n(rollout)         (their token counts)
//   score = lp / n^alpha      (alpha = 1: mean token log-prob; 0: the sum)
// The host checks the candidates before the call (parent beams, finite
// log-probs) and the scores after it, and sets A = score - q(parent beam).
// TODO: a real estimator might call the backend for more evidence here
// (extra rollouts, a verifier prompt, backend.token_logprobs of a re-scoring).
#include <cmath>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

namespace {

class @CLASS@ final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ValueEstimator, "@NAME@", "0.1.0",
                               "length-normalised log-prob of the whole response (scaffold)")
            .key("alpha", 1.0, "length exponent: score = log-prob / tokens^alpha", genius::between(0.0, 2.0));
    return m;
  }

  explicit @CLASS@(const genius::ConfigView& cfg) : alpha_(cfg.get<double>("alpha")) {}

  // Called by the sampler, from the thread that runs explore(); set the score
  // of every candidate, or throw PluginError naming what is wrong.
  void score(const genius::Query& /*query*/, std::vector<genius::Candidate>& candidates,
             const std::vector<double>& /*parent_values*/, genius::ModelBackend& /*backend*/) override {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      genius::Candidate& c = candidates[i];
      const int tokens = c.beam_tokens + c.step_tokens + c.rollout_tokens;
      if (tokens <= 0) throw genius::PluginError(name(), "candidate " + std::to_string(i) + " has no tokens");
      const double logprob = c.beam_logprob + c.step_logprob + c.rollout_logprob;
      c.score = logprob / std::pow(static_cast<double>(tokens), alpha_);
    }
  }

 private:
  double alpha_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(@CLASS@)
