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

  /// Explore a batch of queries together (so the backend sees large batches).
  /// Returns one record per query, in order. `seed` is per call; the host
  /// derives it from the run seed and the queries' ids.
  virtual std::vector<ExplorationRecord> explore(const std::vector<Query>& queries, ModelBackend& backend,
                                                 ValueEstimator& values, std::uint64_t seed) = 0;

  /// Preference pairs of one record (may be empty).
  virtual std::vector<PreferencePair> make_pairs(const ExplorationRecord& record, std::uint64_t seed) const = 0;
};

}  // namespace genius
