// A run directory (docs/run-directory.md), owned by one class: its paths,
// state.json (the finished stages), config.resolved.toml, the resume policy
// and exploration sharing between sweep cells. Nothing else in Genius spells
// a file name of a run directory.
//
//   RunDirectory dir = RunDirectory::open(path, config, RunDirectory::Mode::Resume);
//   dir.create(config);                        // the directory, genius.log, config.resolved.toml
//   if (!dir.done(Stage::Explore, 1)) { ... write dir.records(1) ...; dir.mark_done(Stage::Explore, 1, info); }
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::core {

class ResolvedConfig;

/// The stages of an iteration, in the order `genius run` runs them.
enum class Stage { Explore, Pairs, Audit, Train, Eval };
const char* to_string(Stage stage);

/// A run directory that cannot be opened as asked (exists for a new run,
/// missing for --resume, started with another config): a usage error.
class RunDirectoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RunDirectory {
 public:
  enum class Mode {
    New,       ///< `genius run`: the directory must not hold a run yet
    Resume,    ///< `genius run --resume`: it must hold this run
    Continue,  ///< a stage command: it may hold this run, or nothing yet
  };

  /// Check `dir` against `mode` and `config` (a held run must have been
  /// started with the same config); creates nothing. Throws RunDirectoryError.
  static RunDirectory open(std::filesystem::path dir, const ResolvedConfig& config, Mode mode);
  /// A directory opened for reading only (no config check): sweeps read their cells.
  static RunDirectory at(std::filesystem::path dir);

  /// Create the directory, attach genius.log, and write config.resolved.toml
  /// when it is not there yet. A follower attaches genius.rank-<r>.log only.
  void create(const ResolvedConfig& config) const;

  /// Rank `rank` > 0 of a distributed job (docs/distributed.md): rank 0
  /// alone publishes state.json and the run's files; a follower reads them
  /// and records finished stages in memory.
  void follow(int rank);
  bool publishes() const { return follower_rank_ == 0; }

  const std::filesystem::path& path() const { return dir_; }
  // The layout. Iteration 0 holds the base model's evaluation.
  std::filesystem::path iteration(int i) const;
  std::filesystem::path records(int i) const;  ///< explore -> iter-i/records.jsonl
  /// A rank's part of a distributed exploration, merged into records(i) at its end:
  /// iter-i/records.rank-<r>.jsonl.
  std::filesystem::path records_shard(int i, int rank) const;
  std::vector<std::filesystem::path> records_shards(int i) const;  ///< those that exist, any rank
  std::filesystem::path pairs(int i) const;                        ///< pairs   -> iter-i/pairs.jsonl
  std::filesystem::path audit(int i) const;                        ///< audit   -> iter-i/audit/
  std::filesystem::path train_state(int i) const;    ///< train   -> iter-i/train/ (checkpoints, reference cache)
  std::filesystem::path train_metrics(int i) const;  ///< train   -> iter-i/train_metrics.jsonl
  std::filesystem::path checkpoint(int i) const;     ///< train   -> iter-i/checkpoint/ (the policy after i)
  /// eval -> iter-i/eval.jsonl, or iter-i/eval-<stem>.jsonl for a [data] extra_eval set.
  std::filesystem::path eval(int i, const std::string& stem = "") const;
  std::filesystem::path resolved_config() const;  ///< config.resolved.toml
  std::filesystem::path summary() const;          ///< summary.json
  std::filesystem::path metrics() const;          ///< metrics.jsonl
  std::filesystem::path report() const;           ///< report.html

  /// What a stage of iteration i reads and writes, for messages and docs.
  struct StageFiles {
    std::vector<std::filesystem::path> reads, writes;
  };
  StageFiles files(Stage stage, int iteration) const;
  /// Throws std::runtime_error naming the first file `stage` reads that is
  /// missing and the stage that writes it.
  void require_inputs(Stage stage, int iteration) const;

  // state.json: {"stages": {"explore-1": {...info...}, ...},
  //              "files": {"explore-1": {"iter-1/records.jsonl": {"bytes": N, "crc32": C}}, ...}}
  static std::string stage_key(Stage stage, int iteration);
  bool done(Stage stage, int iteration) const;
  const nlohmann::json& stages() const { return state_["stages"]; }
  /// Record a finished stage with its info (atomically, at once).
  void mark_done(Stage stage, int iteration, const nlohmann::json& info);
  /// summary.json's status ("running" without one): a stage run alone in a
  /// finished run's directory keeps it finished.
  std::string recorded_status() const;

  // Exploration sharing (sweeps): iteration 1's records and pairs and the
  // base evaluation depend only on what a cell shares with its peers.
  bool has_exploration() const;
  /// The cell whose exploration this one uses ("" = its own).
  std::string explored_by() const;
  /// Link the donor's iteration-1 records, pairs and base evaluation into
  /// this directory (hard links, or copies) and mark those stages done with
  /// "shared_from": donor_name. False when the donor has not explored yet;
  /// true (and nothing done) when this directory has explored already.
  bool share_exploration(const RunDirectory& donor, const std::string& donor_name);

 private:
  explicit RunDirectory(std::filesystem::path dir);
  void save_state() const;
  /// Every file a finished stage leaves (files().writes, and each set's eval file).
  std::vector<std::filesystem::path> outputs(Stage stage, int iteration) const;
  /// Check the files of every finished stage against their fingerprints
  /// (state.json "files"); the earliest damaged stage and all after it are
  /// marked not done, their files renamed to *.damaged, with a warning.
  void verify_finished_stages();

  std::filesystem::path dir_;
  nlohmann::json state_;
  int follower_rank_ = 0;
};

}  // namespace genius::core
