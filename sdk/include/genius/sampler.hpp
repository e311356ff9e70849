// genius/sampler.hpp — the Sampler plugin interface: explore, then build pairs.
//
// A sampler explores queries with the current policy (the backend) and a value
// estimator, returning one ExplorationRecord per query, and turns a record
// into preference pairs. Randomness comes only from `seed` so that a run is
// reproducible and resumable query by query.
#pragma once

#include <cstdint>
#include <vector>

#include <genius/model_backend.hpp>
#include <genius/plugin.hpp>
#include <genius/types.hpp>
#include <genius/value_estimator.hpp>

namespace genius {

class Sampler : public Plugin {
 public:
  Sampler() : Plugin(PluginKind::Sampler) {}

  /// Explore a batch of queries together (so the backend sees large
  /// batches). Returns one record per query, in order. All randomness comes
  /// from each Query::seed, so a query's record does not depend on which
  /// other queries share the batch (resumed runs reproduce it exactly).
  virtual std::vector<ExplorationRecord> explore(const std::vector<Query>& queries, ModelBackend& backend,
                                                 ValueEstimator& values) = 0;

  /// How many queries the host hands to one explore() call (the sampler's
  /// `concurrent_queries` key, typically). The host saves records after each call.
  virtual std::size_t queries_per_call() const { return 1; }

  /// Preference pairs of one record (may be empty); the usual implementation
  /// is genius::step_pairs (<genius/helpers/pairs.hpp>), the re-sampling of the paper.
  virtual std::vector<PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const = 0;
};

}  // namespace genius
