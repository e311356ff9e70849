// Guards the samplers put around the other plugins they call. A backend or a
// value estimator that breaks its contract (too few samples, a NaN score) is
// reported at once as the sampler's PluginError, naming what was wrong,
// instead of surfacing later as an out-of-range read or a NaN pair weight.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/model_backend.hpp>
#include <genius/types.hpp>
#include <genius/value_estimator.hpp>

namespace genius::samplers {

/// backend.generate(requests), checked: one result per request, `n` samples
/// per result, each with at least one token and a finite log-prob.
/// `what` names the batch in messages ("candidate steps", "rollouts").
inline std::vector<GenerationResult> checked_generate(ModelBackend& backend,
                                                      const std::vector<GenerationRequest>& requests,
                                                      const std::string& plugin, const std::string& what) {
  if (requests.empty()) return {};
  std::vector<GenerationResult> results = backend.generate(requests);
  if (results.size() != requests.size())
    throw PluginError(plugin, "the backend returned " + std::to_string(results.size()) + " results for " +
                                  std::to_string(requests.size()) + " " + what + " requests");
  for (std::size_t r = 0; r < results.size(); ++r) {
    const auto& samples = results[r].samples;
    if (samples.size() != static_cast<std::size_t>(requests[r].n))
      throw PluginError(plugin, "the backend returned " + std::to_string(samples.size()) + " samples for " + what +
                                    " request " + std::to_string(r) + ", which asked for " +
                                    std::to_string(requests[r].n));
    for (std::size_t s = 0; s < samples.size(); ++s) {
      if (samples[s].token_ids.empty())
        throw PluginError(plugin, "the backend returned an empty sample (no token) for " + what + " request " +
                                      std::to_string(r) + ", sample " + std::to_string(s));
      if (!std::isfinite(samples[s].cumulative_logprob))
        throw PluginError(plugin, "the backend returned a non-finite log-prob for " + what + " request " +
                                      std::to_string(r) + ", sample " + std::to_string(s));
    }
  }
  return results;
}

/// values.score(...), checked: every score and advantage is finite.
inline void checked_score(ValueEstimator& values, const Query& query, std::vector<Candidate>& candidates,
                          const std::vector<double>& parent_values, ModelBackend& backend, const std::string& plugin) {
  if (candidates.empty()) return;
  const std::size_t count = candidates.size();
  values.score(query, candidates, parent_values, backend);
  if (candidates.size() != count)
    throw PluginError(plugin, "value estimator '" + values.name() + "' changed the number of candidates from " +
                                  std::to_string(count) + " to " + std::to_string(candidates.size()));
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (!std::isfinite(candidates[i].score) || !std::isfinite(candidates[i].advantage))
      throw PluginError(plugin, "value estimator '" + values.name() + "' gave a non-finite score or advantage to " +
                                    "candidate " + std::to_string(i) + " of query '" + query.id + "'");
}

}  // namespace genius::samplers
