#include "sampler_check.hpp"

#include <string>

#include <genius/error.hpp>

namespace genius::core {

std::vector<ExplorationRecord> explore_checked(Sampler& sampler, const std::vector<Query>& queries,
                                               ModelBackend& backend, ValueEstimator& values) {
  std::vector<ExplorationRecord> records = sampler.explore(queries, backend, values);
  if (records.size() != queries.size())
    throw PluginError(sampler.name(), "explore returned " + std::to_string(records.size()) + " records for " +
                                          std::to_string(queries.size()) + " queries");
  for (std::size_t k = 0; k < records.size(); ++k)
    if (records[k].query.id != queries[k].id)
      throw PluginError(sampler.name(), "explore returned the records out of order (query '" + queries[k].id + "')");
  return records;
}

}  // namespace genius::core
