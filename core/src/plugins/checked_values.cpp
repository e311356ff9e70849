#include "plugins/checked_values.hpp"

#include <cmath>

#include <genius/error.hpp>

namespace genius::core {
namespace {

// What the sampler hands the estimator: each candidate names an existing
// parent beam with a finite value, and carries finite log-probs and
// non-negative token counts.
void check_candidates(const std::string& sampler, const std::string& values, const Query& query,
                      const std::vector<Candidate>& candidates, const std::vector<double>& parent_values) {
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const std::string which =
        "candidate " + std::to_string(i) + " of query '" + query.id + "' (from sampler '" + sampler + "')";
    if (c.parent_beam < 0 || static_cast<std::size_t>(c.parent_beam) >= parent_values.size())
      throw PluginError(values, which + " names parent beam " + std::to_string(c.parent_beam) + " but there are " +
                                    std::to_string(parent_values.size()) + " parent values");
    if (!std::isfinite(parent_values[static_cast<std::size_t>(c.parent_beam)]))
      throw PluginError(
          values, "the value of parent beam " + std::to_string(c.parent_beam) + " of " + which + " is not finite");
    if (c.beam_tokens < 0 || c.step_tokens < 0 || c.rollout_tokens < 0)
      throw PluginError(values, which + " has a negative token count");
    if (!std::isfinite(c.beam_logprob) || !std::isfinite(c.step_logprob) || !std::isfinite(c.rollout_logprob))
      throw PluginError(values, which + " has a non-finite log-prob");
  }
}

}  // namespace

CheckedValues::CheckedValues(ValueEstimator& inner, std::string caller) : inner_(inner), caller_(std::move(caller)) {
  detail::PluginAccess::set_name(*this, inner_.name());
}

void CheckedValues::score(const Query& query, std::vector<Candidate>& candidates,
                          const std::vector<double>& parent_values, ModelBackend& backend) {
  if (candidates.empty()) return;
  check_candidates(caller_, name(), query, candidates, parent_values);
  const std::size_t count = candidates.size();
  std::vector<int> parents;  // as checked: the estimator may not re-parent a candidate
  parents.reserve(count);
  for (const Candidate& c : candidates) parents.push_back(c.parent_beam);
  inner_.score(query, candidates, parent_values, backend);
  if (candidates.size() != count)
    throw PluginError(name(), "score changed the number of candidates from " + std::to_string(count) + " to " +
                                  std::to_string(candidates.size()) + " (query '" + query.id + "')");
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    Candidate& c = candidates[i];
    if (c.parent_beam != parents[i])
      throw PluginError(
          name(), "score changed the parent beam of candidate " + std::to_string(i) + " of query '" + query.id + "'");
    if (!std::isfinite(c.score))
      throw PluginError(
          name(), "score gave a non-finite score to candidate " + std::to_string(i) + " of query '" + query.id + "'");
    c.advantage = c.score - parent_values[static_cast<std::size_t>(c.parent_beam)];
  }
}

}  // namespace genius::core
