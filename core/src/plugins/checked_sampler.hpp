// The host's side of every Sampler call, the twin of checked_loss.hpp and
// checked_values.hpp: the run's exploration, the audit's and `genius pairs`
// all go through these two functions, so a third-party sampler is checked
// exactly like the built-in ones.
#pragma once

#include <cstdint>
#include <vector>

#include <genius/sampler.hpp>

#include "plugins/checked_backend.hpp"

namespace genius::core {

/// `sampler.explore(queries, backend, values)` with the backend behind
/// CheckedBackend (unless it is one already) and the value estimator behind
/// CheckedValues (advantages computed by the host), checked: one record per
/// query, in the queries' order, carrying its query unchanged; in every step
/// one value per beam, candidates whose parent beam exists and whose score and
/// advantage are finite, selected indices that name candidates; a
/// non-negative token count. Throws genius::PluginError naming the sampler.
std::vector<ExplorationRecord> explore_checked(Sampler& sampler, const std::vector<Query>& queries,
                                               ModelBackend& backend, ValueEstimator& values);

/// `sampler.make_pairs(record, seed)`, checked: every pair belongs to the
/// record's query (id and prompt) and has finite weights.
std::vector<PreferencePair> make_pairs_checked(const Sampler& sampler, const ExplorationRecord& record,
                                               std::uint64_t seed);

}  // namespace genius::core
