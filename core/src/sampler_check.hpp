// Host-side guard around Sampler::explore, the twin of loss_check.hpp: a
// sampler must return one record per query, in the queries' order, or the run
// (and the audit) would file a record under another query's id.
#pragma once

#include <vector>

#include <genius/sampler.hpp>

namespace genius::core {

/// `sampler.explore(queries, backend, values)`, checked: throws
/// genius::PluginError naming the sampler when it returns another number of
/// records or a record whose query id is not the query at its position.
std::vector<ExplorationRecord> explore_checked(Sampler& sampler, const std::vector<Query>& queries,
                                               ModelBackend& backend, ValueEstimator& values);

}  // namespace genius::core
