#include "run/run_directory.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/json_text.hpp>

#include "config/config.hpp"
#include "config/suggest.hpp"
#include "io/errors.hpp"
#include "io/logging.hpp"
#include "run/stage_fingerprint.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::Explore:
      return "explore";
    case Stage::Pairs:
      return "pairs";
    case Stage::Audit:
      return "audit";
    case Stage::Train:
      return "train";
    case Stage::Eval:
      return "eval";
  }
  return "?";
}

namespace {

// A hard link into place, or a copy where links cannot be made; either way
// the file appears whole (made beside the target, then renamed).
void link_or_copy(const fs::path& from, const fs::path& to) {
  const fs::path staging = to.parent_path() / ("." + to.filename().string() + ".sharing");
  fs::remove(staging);
  std::error_code ec;
  fs::create_hard_link(from, staging, ec);
  if (ec) fs::copy_file(from, staging, fs::copy_options::overwrite_existing);
  fs::rename(staging, to);
}

// The state of a run being continued: a damaged state.json is an error, not
// an empty run (which would redo, and overwrite, every finished stage).
json read_state_strictly(const fs::path& file) {
  if (!fs::exists(file)) return json{{"stages", json::object()}};
  std::string why;
  try {
    const json state = json::parse(read_file(file));
    if (state.is_object() && state.contains("stages") && state["stages"].is_object()) return state;
    why = "not a state file ({\"stages\": {...}})";
  } catch (const json::exception& e) {
    why = "not valid JSON (" + json_error_text(e) + ")";
  } catch (const std::exception& e) {
    why = "unreadable";
  }
  throw RunDirectoryError("'" + file.string() + "' is damaged: " + why +
                          "; it records which stages finished: restore it, or start a new run with --out DIR");
}

// The state another process may be writing (a sweep's cells): a damaged or
// missing one reads as no finished stage.
json read_state(const fs::path& file) {
  try {
    return read_state_strictly(file);
  } catch (const RunDirectoryError&) {
    return json{{"stages", json::object()}};
  }
}

// Where a stage comes in a run: base eval, then explore, pairs, audit, train,
// eval of each iteration.
int ordinal(Stage stage, int iteration) {
  return iteration * 5 + static_cast<int>(stage == Stage::Explore ? 0
                                          : stage == Stage::Pairs ? 1
                                          : stage == Stage::Audit ? 2
                                          : stage == Stage::Train ? 3
                                                                  : 4);
}

}  // namespace

RunDirectory::RunDirectory(fs::path dir) : dir_(std::move(dir)), state_(read_state_strictly(dir_ / "state.json")) {}

RunDirectory RunDirectory::at(fs::path dir) {
  return RunDirectory(std::move(dir));
}

RunDirectory RunDirectory::open(fs::path dir, const ResolvedConfig& config, Mode mode) {
  RunDirectory run(std::move(dir));
  const fs::path resolved = run.resolved_config();
  const bool holds_run = fs::exists(resolved);
  if (holds_run && mode == Mode::New)
    throw RunDirectoryError("run directory '" + run.dir_.string() +
                            "' already holds a run; pass --resume to continue it or --out DIR to start a new one");
  if (!holds_run && mode == Mode::Resume)
    throw RunDirectoryError("--resume: '" + run.dir_.string() + "' holds no run to resume (no config.resolved.toml)");
  if (holds_run) {
    const std::vector<std::string> changed = resolved_config_differences(read_file(resolved), config.to_toml());
    if (!changed.empty()) {
      std::string keys;
      for (std::size_t i = 0; i < changed.size() && i < 3; ++i) keys += (i ? "; " : "") + excerpt(changed[i], 200);
      if (changed.size() > 3) keys += "; and " + std::to_string(changed.size() - 3) + " more";
      throw RunDirectoryError("the config differs from the one '" + run.dir_.string() +
                              "' was started with (its config.resolved.toml): " + keys +
                              "; continue it with the same config and --set options, or use --out DIR for a new run");
    }
  }
  if (holds_run) run.verify_finished_stages();
  return run;
}

void RunDirectory::create(const ResolvedConfig& config) const {
  if (!publishes()) {
    add_log_file(dir_ / ("genius.rank-" + std::to_string(follower_rank_) + ".log"));
    return;
  }
  fs::create_directories(dir_);
  add_log_file(dir_ / "genius.log");
  if (!fs::exists(resolved_config())) write_file_atomic(resolved_config(), config.to_toml());
}

void RunDirectory::follow(int rank) {
  follower_rank_ = rank;
}

fs::path RunDirectory::iteration(int i) const {
  return dir_ / ("iter-" + std::to_string(i));
}
fs::path RunDirectory::records(int i) const {
  return iteration(i) / "records.jsonl";
}
fs::path RunDirectory::records_shard(int i, int rank) const {
  return iteration(i) / ("records.rank-" + std::to_string(rank) + ".jsonl");
}
std::vector<fs::path> RunDirectory::records_shards(int i) const {
  std::vector<fs::path> shards;
  if (!fs::is_directory(iteration(i))) return shards;
  for (const auto& entry : fs::directory_iterator(iteration(i))) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("records.rank-", 0) == 0 && entry.path().extension() == ".jsonl") shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  return shards;
}
fs::path RunDirectory::pairs(int i) const {
  return iteration(i) / "pairs.jsonl";
}
fs::path RunDirectory::audit(int i) const {
  return iteration(i) / "audit";
}
fs::path RunDirectory::train_state(int i) const {
  return iteration(i) / "train";
}
fs::path RunDirectory::train_metrics(int i) const {
  return iteration(i) / "train_metrics.jsonl";
}
fs::path RunDirectory::checkpoint(int i) const {
  return iteration(i) / "checkpoint";
}
fs::path RunDirectory::eval(int i, const std::string& stem) const {
  return iteration(i) / (stem.empty() ? std::string("eval.jsonl") : "eval-" + stem + ".jsonl");
}
fs::path RunDirectory::resolved_config() const {
  return dir_ / "config.resolved.toml";
}
fs::path RunDirectory::summary() const {
  return dir_ / "summary.json";
}
fs::path RunDirectory::metrics() const {
  return dir_ / "metrics.jsonl";
}
fs::path RunDirectory::report() const {
  return dir_ / "report.html";
}

RunDirectory::StageFiles RunDirectory::files(Stage stage, int i) const {
  switch (stage) {
    case Stage::Explore:
      return {{}, {records(i)}};
    case Stage::Pairs:
      return {{records(i)}, {pairs(i)}};
    case Stage::Audit:
      return {{}, {audit(i)}};
    case Stage::Train:
      return {{pairs(i)}, {train_state(i), train_metrics(i), checkpoint(i)}};
    case Stage::Eval:
      return {{}, {eval(i)}};
  }
  return {};
}

void RunDirectory::require_inputs(Stage stage, int i) const {
  for (const fs::path& input : files(stage, i).reads) {
    if (fs::exists(input)) continue;
    const Stage writer = stage == Stage::Train ? Stage::Pairs : Stage::Explore;
    throw InputError(std::string(to_string(stage)) + " " + std::to_string(i) + ": '" + input.string() +
                     "' does not exist (run the " + to_string(writer) + " stage first)");
  }
}

std::string RunDirectory::stage_key(Stage stage, int iteration) {
  return std::string(to_string(stage)) + "-" + std::to_string(iteration);
}

bool RunDirectory::done(Stage stage, int iteration) const {
  return stages().contains(stage_key(stage, iteration));
}

void RunDirectory::mark_done(Stage stage, int iteration, const json& info) {
  state_["stages"][stage_key(stage, iteration)] = info;
  state_["files"][stage_key(stage, iteration)] = fingerprint(outputs(stage, iteration), dir_);
  save_state();
}

std::vector<fs::path> RunDirectory::outputs(Stage stage, int i) const {
  std::vector<fs::path> out = files(stage, i).writes;
  if (stage == Stage::Eval && fs::is_directory(iteration(i)))  // and each other set's eval-<name>.jsonl
    for (const auto& entry : fs::directory_iterator(iteration(i))) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("eval-", 0) == 0 && entry.path().extension() == ".jsonl") out.push_back(entry.path());
    }
  return out;
}

void RunDirectory::verify_finished_stages() {
  // Every finished stage, in run order.
  struct Finished {
    int order;
    Stage stage;
    int iteration;
    std::string key;
  };
  std::vector<Finished> finished;
  for (Stage stage : {Stage::Explore, Stage::Pairs, Stage::Audit, Stage::Train, Stage::Eval})
    for (int i = 0; i <= 100000 && (i == 0 || fs::exists(iteration(i))); ++i)
      if (std::string key = stage_key(stage, i); stages().contains(key))
        finished.push_back({ordinal(stage, i), stage, i, std::move(key)});
  std::sort(finished.begin(), finished.end(), [](const Finished& a, const Finished& b) { return a.order < b.order; });

  // The earliest one whose files changed since: it and every stage after it
  // are done again (they were made from it).
  std::optional<std::string> why;
  const auto damaged = std::find_if(finished.begin(), finished.end(), [&](const Finished& f) {
    if (!state_.contains("files") || !state_["files"].contains(f.key)) return false;  // recorded before fingerprints
    why = fingerprint_mismatch(state_["files"][f.key], dir_);
    return why.has_value();
  });
  if (damaged == finished.end()) return;
  std::vector<std::string> redone;
  for (auto f = damaged; f != finished.end(); ++f) {
    // Its text files are set aside (kept for a look): the stage starts afresh.
    for (const fs::path& file : outputs(f->stage, f->iteration))
      if (fs::is_regular_file(file)) fs::rename(file, fs::path(file.string() + ".damaged"));
    state_["stages"].erase(f->key);
    if (state_.contains("files")) state_["files"].erase(f->key);
    redone.push_back(f->key);
  }
  spdlog::warn("{}: {}: {} (a damaged file); doing again: {}", dir_.string(), damaged->key, *why, join(redone, ", "));
  save_state();
}

void RunDirectory::save_state() const {
  if (!publishes()) return;
  write_file_atomic(dir_ / "state.json", state_.dump(2) + "\n");
}

std::string RunDirectory::recorded_status() const {
  if (!fs::exists(summary())) return "running";
  const json j = json::parse(read_file(summary()), nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("status") && j["status"].is_string() ? j["status"].get<std::string>() : "running";
}

bool RunDirectory::has_exploration() const {
  const json state = read_state(dir_ / "state.json");  // another process may have moved on
  return state["stages"].contains(stage_key(Stage::Explore, 1)) && state["stages"].contains(stage_key(Stage::Pairs, 1));
}

std::string RunDirectory::explored_by() const {
  const json state = read_state(dir_ / "state.json");
  const std::string key = stage_key(Stage::Explore, 1);
  return state["stages"].contains(key) ? state["stages"][key].value("shared_from", "") : "";
}

bool RunDirectory::share_exploration(const RunDirectory& donor, const std::string& donor_name) {
  const json from = read_state(donor.dir_ / "state.json")["stages"];
  const std::string explore = stage_key(Stage::Explore, 1), pairs_key = stage_key(Stage::Pairs, 1),
                    base_eval = stage_key(Stage::Eval, 0);
  if (!from.contains(explore) || !from.contains(pairs_key)) return false;
  state_ = read_state(dir_ / "state.json");
  if (state_["stages"].contains(explore)) return true;  // explored (or shared) already
  std::vector<std::pair<std::string, fs::path>> files = {{explore, records(1)}, {pairs_key, pairs(1)}};
  if (from.contains(base_eval)) {
    // [data] eval's items (absent when only [[eval.sets]] are evaluated), and
    // those of each other set: iter-0/eval-<name>.jsonl.
    if (fs::exists(donor.eval(0))) files.emplace_back(base_eval, eval(0));
    if (fs::exists(donor.iteration(0)))
      for (const auto& entry : fs::directory_iterator(donor.iteration(0))) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("eval-", 0) == 0 && entry.path().extension() == ".jsonl")
          files.emplace_back(base_eval, iteration(0) / name);
      }
  }
  for (const auto& [stage, file] : files) {
    fs::create_directories(file.parent_path());
    link_or_copy(donor.dir_ / fs::relative(file, dir_), file);
  }
  for (const auto& [stage, file] : files) {
    json info = from[stage];
    if (!info.contains("shared_from")) info["shared_from"] = donor_name;
    state_["stages"][stage] = info;
  }
  for (const auto& [stage, file] : files) {  // every file of a shared stage, as if it finished here
    json& recorded = state_["files"][stage];
    if (!recorded.is_object()) recorded = json::object();
    recorded.update(fingerprint({file}, dir_));
  }
  save_state();
  return true;
}

}  // namespace genius::core
