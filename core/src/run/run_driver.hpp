// The self-training loop of one run directory (algorithm.md §1):
//
//   eval-0 (the base model), then for each iteration i = 1..[run] iterations:
//     explore  queries -> iter-i/records.jsonl   (appended per batch, fsync'd)
//     pairs    records -> iter-i/pairs.jsonl     (rewritten atomically)
//     audit    ([audit] items > 0) labeled probe items -> iter-i/audit/ (audit.hpp)
//     train    pairs   -> iter-i/checkpoint/     (the policy, Hugging Face layout)
//     eval     checkpoint -> iter-i/eval.jsonl + metrics
//   metrics.jsonl, summary.json and report.html are rewritten after every stage.
//
// Every stage is resumable: state.json records finished stages; an
// interrupted explore skips the queries already in records.jsonl (a torn last
// line is dropped), an interrupted train resumes from its last checkpoint.
// With the same config and seed a resumed run writes the same records and
// pairs as an uninterrupted one (every query's randomness comes from its own
// seed, derived from the run seed, the iteration and the query id).
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <genius/sdk.hpp>

#include "config/config.hpp"
#include "plugins/model_pool.hpp"
#include "plugins/plugin_registry.hpp"
#include "run/run_directory.hpp"

namespace genius::core {

class CheckedBackend;
class Cluster;
struct AuditOptions;

/// The [data] train queries iteration `iteration` explores, in the order a
/// run hands them to the sampler, each with its seed (query_seed of the run
/// seed, the iteration and the query id). Throws when [data] train is not set.
std::vector<Query> explore_queries(const ResolvedConfig& config, int iteration);

class RunDriver {
 public:
  /// `dir` was opened (RunDirectory::open) and created for this config.
  /// With a distributed `cluster` every rank runs a driver: exploration,
  /// training and evaluation are shared out, the pairs and the audit run on
  /// rank 0, and rank 0 alone publishes the directory's files (`dir` of the
  /// other ranks follows, RunDirectory::follow).
  RunDriver(const ResolvedConfig& config, const PluginRegistry& registry, RunDirectory dir, Cluster& cluster);
  ~RunDriver();

  /// Use plugins created by the caller (e.g. to fail on a bad model path
  /// before the run directory is written) instead of creating them lazily.
  /// `backend` must hold the configured starting weights.
  void use_plugins(std::shared_ptr<ModelBackend> backend, std::shared_ptr<Sampler> sampler,
                   std::shared_ptr<ValueEstimator> values, std::shared_ptr<Loss> loss);

  /// The whole loop; returns the summary. Its inputs are checked by
  /// preflight() first (`genius run` does), not here.
  nlohmann::json run();
  /// One stage of one iteration (0 = the base model, for Eval only).
  void run_stage(Stage stage, int iteration);
  /// The self-reward audit of the policy that starts `iteration`, with
  /// `options` (which may differ from the config's [audit]), run again even
  /// when the run already audited that iteration; returns its metrics.
  nlohmann::json audit(int iteration, const AuditOptions& options);

  const RunDirectory& dir() const { return dir_; }

 private:
  void explore(int iteration);
  void build_pairs(int iteration);
  void audit(int iteration);  ///< the stage: the config's [audit], once
  void train(int iteration);
  void evaluate(int iteration);

  /// The policy as it is at the start of `iteration` (after training
  /// iteration - 1); loaded lazily and kept across stages.
  CheckedBackend& policy_at(int iteration);
  /// [train] lora_* and gradient_checkpointing, on a policy just made.
  void prepare_policy();
  /// Record a finished stage and rewrite metrics.jsonl, summary.json and report.html.
  void finish_stage(Stage stage, int iteration, const nlohmann::json& info);
  void write_outputs(const std::string& status);
  /// The files holding iteration `iteration`'s records: records.jsonl (when it exists), then every rank's shard.
  std::vector<std::filesystem::path> record_sources(int iteration) const;
  /// The ids of the queries whose exploration chunk (of `per_call`) is
  /// complete in the iteration's records and shards; this rank's own file
  /// `mine` keeps only their lines.
  std::set<std::string> explored_chunks(int iteration, const std::vector<Query>& queries, std::size_t per_call,
                                        const std::filesystem::path& mine);
  /// Rank 0, after every rank explored: records.jsonl in query order, the shards removed.
  void merge_records(int iteration, const std::vector<Query>& queries);
  /// Create the sampler and value estimator if needed, and hand them the
  /// models they declare (the [critic]).
  void make_explorers();

  const ResolvedConfig& config_;
  const PluginRegistry& registry_;
  RunDirectory dir_;
  Cluster& cluster_;
  std::uint64_t seed_;
  int iterations_;
  std::shared_ptr<CheckedBackend> policy_;
  int policy_iteration_ = -1;  ///< the iteration whose starting weights policy_ holds
  std::shared_ptr<Sampler> sampler_;
  std::shared_ptr<ValueEstimator> values_;
  std::shared_ptr<Loss> loss_;
  ModelPool models_;
  bool attached_ = false;  ///< sampler_ and values_ have their models
  std::chrono::steady_clock::time_point start_;
};

}  // namespace genius::core
