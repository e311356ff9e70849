#include "run/run_directory.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <genius/helpers/atomic_file.hpp>

#include "config/config.hpp"
#include "io/logging.hpp"

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

json read_state(const fs::path& file) {
  try {
    if (fs::exists(file)) {
      json state = json::parse(read_file(file));
      if (state.is_object() && state.contains("stages") && state["stages"].is_object()) return state;
    }
  } catch (const std::exception&) {
  }
  return json{{"stages", json::object()}};
}

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

}  // namespace

RunDirectory::RunDirectory(fs::path dir) : dir_(std::move(dir)), state_(read_state(dir_ / "state.json")) {}

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
  if (holds_run && !same_resolved_config(read_file(resolved), config.to_toml()))
    throw RunDirectoryError("the config differs from the one '" + run.dir_.string() +
                            "' was started with (see its config.resolved.toml); continue it with the same config and "
                            "--set options, or use --out DIR for a new run");
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
    throw std::runtime_error(std::string(to_string(stage)) + " " + std::to_string(i) + ": '" + input.string() +
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
  save_state();
  return true;
}

}  // namespace genius::core
