// genius sweep FILE [--out DIR] [--jobs N] [--resume] [--dry-run]
//
// Every cell runs as a child process `genius run DIR/cell.toml --out DIR`
// (this same executable), its output in DIR/cell.log. A child dies with the
// sweep (PR_SET_PDEATHSIG), so a killed sweep leaves no orphan run behind
// and `--resume` continues where it stopped (docs/sweeps.md).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/json_text.hpp>

#include "cli.hpp"
#include "io/errors.hpp"
#include "run/run_directory.hpp"
#include "sweep/sweep.hpp"
#include "sweep/sweep_report.hpp"

namespace genius::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct CellRun {
  const core::PlannedCell* plan = nullptr;
  fs::path dir;
  std::string status = "pending";  // pending | running | finished | failed
  pid_t pid = -1;
  int attempts = 0;
  int exit_code = -1;
  std::string explored_by;
  std::vector<std::size_t> peers;  // cells with the same exploration
  std::chrono::steady_clock::time_point started;
};

std::string summary_status(const fs::path& dir) {
  try {
    if (fs::exists(core::RunDirectory::at(dir).summary()))
      return json::parse(read_file(core::RunDirectory::at(dir).summary())).value("status", "");
  } catch (const std::exception&) {
  }
  return "";
}

json read_json_or_null(const fs::path& file) {
  try {
    if (fs::exists(file)) return json::parse(read_file(file));
  } catch (const std::exception&) {
  }
  return nullptr;
}

// `genius run DIR/cell.toml --out DIR [--resume]` with stdout and stderr
// appended to DIR/cell.log.
pid_t spawn_cell(const CellRun& cell, bool resume) {
  const std::string config = (cell.dir / "cell.toml").string(), out = cell.dir.string(),
                    log = (cell.dir / "cell.log").string();
  std::vector<std::string> args = {"genius", "run", config, "--out", out};
  if (resume) args.emplace_back("--resume");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (fd < 0 || null < 0) ::_exit(127);
    ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv("/proc/self/exe", argv.data());
    const char message[] = "genius sweep: cannot execute /proc/self/exe\n";
    [[maybe_unused]] const ssize_t n = ::write(2, message, sizeof message - 1);
    ::_exit(127);
  }
  return pid;
}

class Sweep {
 public:
  Sweep(const core::SweepPlan& plan, fs::path dir, int jobs) : plan_(plan), dir_(std::move(dir)), jobs_(jobs) {
    const json previous = read_json_or_null(dir_ / "sweep.json");
    for (const core::PlannedCell& p : plan_.cells) {
      CellRun c;
      c.plan = &p;
      c.dir = dir_ / p.cell.name;
      if (previous.is_object())
        for (const json& old : previous.value("cells", json::array()))
          if (old.value("name", "") == p.cell.name) c.attempts = old.value("attempts", 0);
      cells_.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < cells_.size(); ++i)
      for (std::size_t j = 0; j < cells_.size(); ++j)
        if (i != j && plan_.cells[i].share_key == plan_.cells[j].share_key) cells_[i].peers.push_back(j);
  }

  // Runs every cell; returns the number that failed.
  std::size_t run() {
    fs::create_directories(dir_);
    for (CellRun& c : cells_) {
      if (summary_status(c.dir) == "finished") {
        c.status = "finished";
        c.explored_by = explored_by(c);
        std::fprintf(stderr, "sweep: %s: finished already, skipped\n", c.plan->cell.name.c_str());
      }
    }
    save("running");
    for (;;) {
      reap();
      std::size_t running = 0;
      for (const CellRun& c : cells_) running += c.status == "running";
      for (std::size_t i = 0; i < cells_.size() && running < static_cast<std::size_t>(jobs_); ++i)
        if (cells_[i].status == "pending" && try_start(i)) ++running;
      bool pending = false;
      for (const CellRun& c : cells_) pending = pending || c.status == "pending";
      if (!running && !pending) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::size_t failed = 0;
    for (const CellRun& c : cells_) failed += c.status == "failed";
    save(failed ? "failed" : "finished");
    return failed;
  }

 private:
  static std::string explored_by(const CellRun& c) { return core::RunDirectory::at(c.dir).explored_by(); }

  // Starts cell i unless it must wait for a peer that is exploring.
  bool try_start(std::size_t i) {
    CellRun& c = cells_[i];
    bool peer_exploring = false;
    const CellRun* donor = nullptr;
    for (std::size_t j : c.peers) {
      if (!donor && core::has_exploration(cells_[j].dir)) donor = &cells_[j];
      peer_exploring = peer_exploring || cells_[j].status == "running";
    }
    fs::create_directories(c.dir);
    if (donor) {
      core::share_exploration(donor->dir, donor->plan->cell.name, c.dir);
    } else if (peer_exploring && !core::has_exploration(c.dir)) {
      return false;  // its exploration is being made by a peer
    }
    c.explored_by = explored_by(c);
    write_file_atomic(c.dir / "cell.toml", "# Cell " + c.plan->cell.name + " of the sweep " + plan_.spec.file.string() +
                                               "\n" + c.plan->config.to_toml());
    const bool resume = fs::exists(core::RunDirectory::at(c.dir).resolved_config());
    c.pid = spawn_cell(c, resume);
    c.status = "running";
    ++c.attempts;
    c.started = std::chrono::steady_clock::now();
    std::fprintf(stderr, "sweep: %s: %s%s\n", c.plan->cell.name.c_str(), resume ? "resumed" : "started",
                 c.explored_by.empty() ? "" : (" (exploration from " + c.explored_by + ")").c_str());
    save("running");
    return true;
  }

  void reap() {
    for (CellRun& c : cells_) {
      if (c.status != "running") continue;
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;
      c.exit_code = r < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.started).count();
      c.status = c.exit_code == 0 && summary_status(c.dir) == "finished" ? "finished" : "failed";
      if (c.status == "finished")
        std::fprintf(stderr, "sweep: %s: finished in %.1f s\n", c.plan->cell.name.c_str(), seconds);
      else
        std::fprintf(stderr, "sweep: %s: FAILED (exit %d) after %.1f s; see %s\n", c.plan->cell.name.c_str(),
                     c.exit_code, seconds, (c.dir / "cell.log").string().c_str());
      save("running");
    }
  }

  // sweep.json, then the tables.
  void save(const std::string& status) {
    json cells = json::array();
    std::vector<core::SweepCellResult> results;
    for (const CellRun& c : cells_) {
      const core::SweepCell& cell = c.plan->cell;
      json values = json::object();
      std::vector<std::pair<std::string, std::string>> value_texts;
      for (const core::SweepSetting& s : cell.values) {
        values[s.key] = s.value.text;
        value_texts.emplace_back(s.key, s.value.text);
      }
      cells.push_back({{"name", cell.name},
                       {"group", cell.group},
                       {"values", values},
                       {"seed", cell.seed ? json(*cell.seed) : json(nullptr)},
                       {"status", c.status},
                       {"attempts", c.attempts},
                       {"exit_code", c.exit_code},
                       {"explored_by", c.explored_by}});
      results.push_back({cell.name, cell.group, value_texts, cell.seed, c.status, c.explored_by,
                         read_json_or_null(core::RunDirectory::at(c.dir).summary())});
    }
    const json state = {
        {"name", plan_.spec.name},          {"file", fs::absolute(plan_.spec.file).lexically_normal().string()},
        {"base", plan_.spec.base.string()}, {"status", status},
        {"axes", plan_.spec.varied_keys()}, {"cells", cells}};
    write_file_atomic(dir_ / "sweep.json", state.dump(2) + "\n");
    core::write_sweep_tables(dir_, plan_.spec.name, plan_.spec.varied_keys(), results);
  }

  const core::SweepPlan& plan_;
  fs::path dir_;
  int jobs_;
  std::vector<CellRun> cells_;
};

void print_grid(const core::SweepPlan& plan, const fs::path& dir) {
  std::size_t explorations = 0;
  for (const core::PlannedCell& c : plan.cells) explorations += c.explorer < 0;
  std::printf("sweep %s: %zu cells from %s (base %s)\n", plan.spec.name.c_str(), plan.cells.size(),
              plan.spec.file.string().c_str(), plan.spec.base.string().c_str());
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    const core::PlannedCell& c = plan.cells[i];
    // The values as written, when sanitising changed them in the name.
    std::string values;
    for (const core::SweepSetting& s : c.cell.values)
      values += (values.empty() ? "" : ",") + s.key + "=" + s.value.text;
    if (c.cell.seed) values += (values.empty() ? "" : ",") + std::string("seed=") + std::to_string(*c.cell.seed);
    std::printf("%4zu  %-40s %s%s\n", i + 1, c.cell.name.c_str(),
                c.explorer < 0
                    ? "explores"
                    : ("shares exploration with " + plan.cells[static_cast<std::size_t>(c.explorer)].cell.name).c_str(),
                values.empty() || values == c.cell.name ? "" : ("  [" + values + "]").c_str());
  }
  std::printf("%zu explorations for %zu cells; %zu cells reuse iteration 1's exploration and the base evaluation\n",
              explorations, plan.cells.size(), plan.cells.size() - explorations);
  std::printf("sweep directory: %s (nothing was run: --dry-run)\n", dir.string().c_str());
}

}  // namespace

int sweep_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "sweep file")(
      "out", po::value<std::string>()->value_name("DIR"),
      "sweep directory (default: <[sweep] out_dir>/<[sweep] name>)")(
      "jobs,j", po::value<int>()->default_value(1)->value_name("N"),
      "cells run at the same time, each its own process")(
      "resume", "continue the sweep in an existing sweep directory (finished cells are skipped)")(
      "dry-run", "print the cells and which share exploration; run nothing");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse("sweep", "FILE [--out DIR] [--jobs N] [--resume] [--dry-run]", args, options, positional,
                          [&](const po::variables_map& given) {
                            if (!given.count("file")) throw po::error("missing the sweep FILE");
                            check_range(given, "jobs", 1);
                          });
  if (!vm) return vm.exit_code;

  std::optional<core::SweepPlan> plan;
  try {
    const core::SweepSpec spec = core::SweepSpec::load((*vm)["file"].as<std::string>());
    const core::PluginRegistry registry = core::discover_sweep_plugins(spec);
    registry.throw_if_errors();
    plan.emplace(core::plan_sweep(spec, registry));
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  const fs::path dir =
      vm->count("out") ? fs::path((*vm)["out"].as<std::string>()) : plan->spec.out_dir / plan->spec.name;
  if (vm->count("dry-run")) {
    print_grid(*plan, dir);
    return core::kExitOk;
  }
  const bool resume = vm->count("resume") > 0;
  if (fs::exists(dir / "sweep.json") && !resume) {
    std::cerr << "sweep directory '" << dir.string()
              << "' already holds a sweep; pass --resume to continue it or --out DIR to start a new one\n";
    return core::kExitUsageError;
  }
  if (resume && !fs::exists(dir / "sweep.json")) {
    std::cerr << "--resume: '" << dir.string() << "' holds no sweep to resume (no sweep.json)\n";
    return core::kExitUsageError;
  }
  if (resume) {  // written atomically: anything but a sweep state is damage from outside
    const json state = read_json_or_null(dir / "sweep.json");
    if (!state.is_object() || !state.contains("cells") || !state["cells"].is_array()) {
      std::cerr << "--resume: '" << (dir / "sweep.json").string()
                << "' is damaged (not a sweep state: {\"cells\": [...], ...}); the cells' run directories are "
                   "intact: move sweep.json away to resume them, or use --out DIR\n";
      return core::kExitUsageError;
    }
  }
  // A cell directory that already holds a run must hold this cell's run: a
  // changed base or sweep file would otherwise mix configs in one table.
  std::vector<std::string> changed, first_keys;
  for (const core::PlannedCell& c : plan->cells) {
    const fs::path resolved = core::RunDirectory::at(dir / c.cell.name).resolved_config();
    if (!fs::exists(resolved)) continue;
    const auto keys = core::resolved_config_differences(read_file(resolved), c.config.to_toml());
    if (keys.empty()) continue;
    if (changed.empty()) first_keys = keys;
    changed.push_back(c.cell.name);
  }
  if (!changed.empty()) {
    std::cerr << "the config of " << changed.size() << " cell(s) differs from the one their run directories were "
              << "started with (first: '" << (dir / changed.front()).string()
              << "': " << excerpt(first_keys.front(), 200) << (first_keys.size() > 1 ? ", ..." : "")
              << "); resume with the same sweep and base files, or use --out DIR\n";
    return core::kExitUsageError;
  }
  Sweep sweep(*plan, dir, (*vm)["jobs"].as<int>());
  const std::size_t failed = sweep.run();
  std::printf("%s\nsweep directory: %s\ntables: %s, %s, %s\n", read_file(dir / "sweep.md").c_str(),
              dir.string().c_str(), (dir / "sweep.md").string().c_str(), (dir / "sweep.csv").string().c_str(),
              (dir / "sweep.html").string().c_str());
  if (failed) std::fprintf(stderr, "sweep: %zu of %zu cells failed\n", failed, plan->cells.size());
  return failed ? core::kExitRunFailed : core::kExitOk;
}

}  // namespace genius::cli
