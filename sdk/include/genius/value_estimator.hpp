// genius/value_estimator.hpp — the ValueEstimator plugin interface.
//
// Scores candidate steps. The foresight sampler fills each Candidate's step
// and rollout (text, log-prob, token count) and asks the estimator for a
// score. An estimator may call the backend for more evidence (e.g. extra
// rollouts or a re-scoring pass).
//
// The host stands between the sampler and the estimator: before the call it
// checks the candidates (a parent beam that exists, finite log-probs and
// values, non-negative token counts), after it checks that every score is
// finite and sets advantage = score - parent_values[parent_beam] itself, in
// one place for every estimator (since SDK ABI 3).
#pragma once

#include <vector>

#include <genius/model_backend.hpp>
#include <genius/plugin.hpp>
#include <genius/types.hpp>

namespace genius {

class ValueEstimator : public Plugin {
 public:
  ValueEstimator() : Plugin(PluginKind::ValueEstimator) {}

  /// Set `score` of every candidate (keep their number and order).
  /// `parent_values[b]` is the value q of beam b (0 for the empty beam of the
  /// first step). `advantage` is the host's: a value written to it is replaced.
  virtual void score(const Query& query, std::vector<Candidate>& candidates, const std::vector<double>& parent_values,
                     ModelBackend& backend) = 0;
};

}  // namespace genius
