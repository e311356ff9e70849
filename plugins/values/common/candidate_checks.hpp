// Input checks shared by the value estimators: a candidate must name an
// existing parent beam and carry finite log-probs and non-negative token
// counts. A sampler that breaks this gets a PluginError naming the estimator
// and the candidate, not a silently wrong score.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/types.hpp>

namespace genius::values {

inline void check_candidates(const std::string& plugin, const std::vector<Candidate>& candidates,
                             const std::vector<double>& parent_values) {
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const std::string which = "candidate " + std::to_string(i);
    if (c.parent_beam < 0 || static_cast<std::size_t>(c.parent_beam) >= parent_values.size())
      throw PluginError(plugin, which + " names parent beam " + std::to_string(c.parent_beam) + " but there are " +
                                    std::to_string(parent_values.size()) + " parent values");
    if (!std::isfinite(parent_values[static_cast<std::size_t>(c.parent_beam)]))
      throw PluginError(plugin, "the value of parent beam " + std::to_string(c.parent_beam) + " is not finite");
    if (c.beam_tokens < 0 || c.step_tokens < 0 || c.rollout_tokens < 0)
      throw PluginError(plugin, which + " has a negative token count");
    if (!std::isfinite(c.beam_logprob) || !std::isfinite(c.step_logprob) || !std::isfinite(c.rollout_logprob))
      throw PluginError(plugin, which + " has a non-finite log-prob");
  }
}

/// A = score - q(parent beam), for every candidate.
inline void set_advantages(std::vector<Candidate>& candidates, const std::vector<double>& parent_values) {
  for (Candidate& c : candidates) c.advantage = c.score - parent_values[static_cast<std::size_t>(c.parent_beam)];
}

}  // namespace genius::values
