// genius/value_estimator.hpp — the ValueEstimator plugin interface.
//
// Scores candidate steps. The foresight sampler fills each Candidate's step
// and rollout (text, log-prob, token count) and asks the estimator for a
// score; the advantage is score minus the value of the candidate's parent
// beam. An estimator may call the backend for more evidence (e.g. extra
// rollouts or a re-scoring pass).
#pragma once

#include <vector>

#include <genius/model_backend.hpp>
#include <genius/plugin.hpp>
#include <genius/types.hpp>

namespace genius {

class ValueEstimator : public Plugin {
 public:
  ValueEstimator() : Plugin(PluginKind::ValueEstimator) {}

  /// Set `score` and `advantage` of every candidate. `parent_values[b]` is
  /// the value q of beam b (0 for the empty beam of the first step).
  virtual void score(const Query& query, std::vector<Candidate>& candidates,
                     const std::vector<double>& parent_values, ModelBackend& backend) = 0;
};

}  // namespace genius
