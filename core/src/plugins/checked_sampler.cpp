#include "plugins/checked_sampler.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include <genius/error.hpp>

#include "plugins/checked_values.hpp"

namespace genius::core {
namespace {

void check_record(const Sampler& sampler, const ExplorationRecord& record, const Query& query) {
  const std::string of = " of query '" + query.id + "'";
  if (record.query.id != query.id)
    throw PluginError(sampler.name(), "explore returned the records out of order (query '" + query.id + "')");
  if (record.query.prompt != query.prompt || record.query.seed != query.seed)
    throw PluginError(sampler.name(), "explore changed the prompt or seed of the record" + of);
  if (record.generated_tokens < 0) throw PluginError(sampler.name(), "explore returned a negative token count" + of);
  for (const StepRecord& step : record.steps) {
    const std::string where = " at step " + std::to_string(step.step) + of;
    if (step.beam_values.size() != step.beams.size())
      throw PluginError(sampler.name(), "explore recorded " + std::to_string(step.beam_values.size()) +
                                            " beam values for " + std::to_string(step.beams.size()) + " beams" + where);
    for (std::size_t i = 0; i < step.candidates.size(); ++i) {
      const Candidate& c = step.candidates[i];
      if (c.parent_beam < 0 || static_cast<std::size_t>(c.parent_beam) >= step.beams.size())
        throw PluginError(sampler.name(), "candidate " + std::to_string(i) + " names parent beam " +
                                              std::to_string(c.parent_beam) + where);
      if (!std::isfinite(c.score) || !std::isfinite(c.advantage))
        throw PluginError(sampler.name(),
                          "candidate " + std::to_string(i) + " has a non-finite score or advantage" + where);
    }
    for (const int selected : step.selected)
      if (selected < 0 || static_cast<std::size_t>(selected) >= step.candidates.size())
        throw PluginError(sampler.name(), "selected candidate " + std::to_string(selected) + " does not exist" + where);
  }
}

}  // namespace

std::vector<ExplorationRecord> explore_checked(Sampler& sampler, const std::vector<Query>& queries,
                                               ModelBackend& backend, ValueEstimator& values) {
  std::optional<CheckedBackend> own;  // a view of `backend`, which the caller owns
  auto* checked_backend = dynamic_cast<CheckedBackend*>(&backend);
  if (!checked_backend) checked_backend = &own.emplace(std::shared_ptr<ModelBackend>(&backend, [](ModelBackend*) {}));
  CheckedBackend::CallerScope caller(*checked_backend, sampler.name());
  CheckedValues checked_values(values, sampler.name());
  // A chunk starts from no cached generation state, whatever ran before it:
  // a resumed run explores each chunk exactly as an uninterrupted one.
  checked_backend->reset_generation_cache();
  std::vector<ExplorationRecord> records = sampler.explore(queries, *checked_backend, checked_values);
  if (records.size() != queries.size())
    throw PluginError(sampler.name(), "explore returned " + std::to_string(records.size()) + " records for " +
                                          std::to_string(queries.size()) + " queries");
  for (std::size_t k = 0; k < records.size(); ++k) check_record(sampler, records[k], queries[k]);
  return records;
}

std::vector<PreferencePair> make_pairs_checked(const Sampler& sampler, const ExplorationRecord& record,
                                               std::uint64_t seed) {
  std::vector<PreferencePair> pairs = sampler.make_pairs(record, seed);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const PreferencePair& p = pairs[i];
    const std::string which = "pair " + std::to_string(i) + " of query '" + record.query.id + "'";
    if (p.query_id != record.query.id || p.prompt != record.query.prompt)
      throw PluginError(sampler.name(), "make_pairs returned " + which + " under another query ('" + p.query_id + "')");
    if (!std::isfinite(p.chosen_weight) || !std::isfinite(p.rejected_weight) || !std::isfinite(p.chosen_average_weight))
      throw PluginError(sampler.name(), "make_pairs gave " + which + " a non-finite weight");
  }
  return pairs;
}

}  // namespace genius::core
