// Sweeps: one TOML file names a base run config and the keys to vary; the
// grid of cells (every combination, zipped keys together, seeds innermost,
// excluded cells dropped) is expanded and every cell validated before any
// runs (docs/sweeps.md).
//
//   SweepSpec spec = SweepSpec::load("ablation_losses.toml");
//   SweepPlan plan = plan_sweep(spec, discover_sweep_plugins(spec));  // all errors at once
//   for (const PlannedCell& c : plan.cells) c.cell.name;  // "loss.plugin=dpo,seed=1"
//
// Cells whose configs differ only in what training reads ([loss], [train],
// and [run] keys that change no result) share iteration 1's exploration and
// the base model's evaluation: one of them explores, the others get its
// files (share_exploration) and the run driver skips those stages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::core {

/// One value as the sweep file gives it.
struct SweepValue {
  std::string toml;              ///< a TOML literal, as a --set value: "dpo" -> "\"dpo\"", 1e-4 -> 0.0001
  std::string text;              ///< for names and tables: dpo, 0.0001
  std::optional<double> number;  ///< ints and floats, compared by value (1 == 1.0)
  bool operator==(const SweepValue& other) const;
  bool operator!=(const SweepValue& other) const { return !(*this == other); }
};

/// `section.key = value` at a place in the sweep file.
struct SweepSetting {
  std::string key;  ///< "loss.plugin"
  SweepValue value;
  SourceLocation where;
  std::string override_text() const { return key + "=" + value.toml; }  ///< "loss.plugin=\"dpo\""
};

/// A dimension of the grid: one axis (one key), or a zip group (several keys
/// that take their values together, row by row).
struct SweepDimension {
  std::vector<std::string> keys;
  std::vector<std::vector<SweepSetting>> rows;  ///< rows[i][k] sets keys[k]
};

/// A rule over cells: it applies to a cell whose varied keys (and seed, as
/// run.seed) equal every value of `match`.
struct SweepRule {
  std::vector<SweepSetting> match;
  std::vector<SweepSetting> set;  ///< [[sweep.when]] only: what a matching cell also sets
  SourceLocation where;
};

/// A parsed sweep file (not yet expanded or validated against a registry).
struct SweepSpec {
  std::filesystem::path file;
  std::string name;            ///< [sweep] name, default: the file's stem
  std::filesystem::path base;  ///< the base run config, absolute
  SourceLocation base_where;
  std::filesystem::path out_dir;  ///< [sweep] out_dir (relative to the sweep file), default runs/sweeps (working dir)
  /// The grids whose cells make the sweep: the axes and zips of [sweep]
  /// (if any), then one per [[sweep.grid]]. A grid's dimensions are in file
  /// order, the first varying slowest.
  std::vector<std::vector<SweepDimension>> grids;
  std::vector<std::int64_t> seeds;  ///< empty: the base's run.seed, one cell per grid point
  SourceLocation seeds_where;
  std::vector<SweepSetting> fixed;  ///< [set]: every cell
  std::vector<SweepRule> excludes;  ///< [[sweep.exclude]]
  std::vector<SweepRule> whens;     ///< [[sweep.when]]

  /// Every key some grid varies, in file order, each once.
  std::vector<std::string> varied_keys() const;

  /// Parse a sweep file. Throws ConfigValidationError listing every problem,
  /// each naming the file, line and key.
  static SweepSpec load(const std::filesystem::path& file);
  static SweepSpec parse(const std::string& text, const std::filesystem::path& file);
};

/// True when `file` is TOML with a top-level [sweep] table.
bool is_sweep_file(const std::filesystem::path& file);

/// One point of the grid with its seed.
struct SweepCell {
  std::string name;                  ///< directory name: "loss.plugin=dpo,seed=1" (sanitised, unique)
  std::string group;                 ///< the name without the seed ("base" when nothing varies but the seed)
  std::vector<SweepSetting> values;  ///< the varied keys' values, in dimension order
  std::optional<std::int64_t> seed;
  /// --set options, in the order they apply: [set], matching [[sweep.when]]
  /// rules, the cell's values, run.seed, run.name.
  std::vector<std::string> overrides;
};

/// Every cell: grid by grid, the product of its dimensions (first slowest),
/// each point repeated for every seed (innermost), cells matching an
/// exclude rule dropped. Throws ConfigValidationError for a rule that matches no cell.
std::vector<SweepCell> expand_grid(const SweepSpec& spec);

/// `text` as a directory-name part: characters other than letters, digits
/// and . _ + - = , become '_'.
std::string sanitize_name(const std::string& text);

struct PlannedCell {
  SweepCell cell;
  ResolvedConfig config;
  std::string share_key;  ///< equal keys: the same iteration-1 exploration and base evaluation
  int explorer = -1;      ///< index of the cell planned to explore for this one; -1: explores itself
};

struct SweepPlan {
  SweepSpec spec;
  std::vector<PlannedCell> cells;
};

/// Expand and validate every cell exactly as `genius run --set` would,
/// before anything runs. A cell that selects another plugin in a section
/// than the base config starts that section from the plugin's defaults.
/// Throws ConfigValidationError with every problem (once, even when several
/// cells share it), located in the sweep file and naming a cell.
SweepPlan plan_sweep(const SweepSpec& spec, const PluginRegistry& registry);

/// The plugins the base config sees (built-in, GENIUS_PLUGIN_PATH, its [run] plugin_path).
PluginRegistry discover_sweep_plugins(const SweepSpec& spec);

/// What iteration 1's exploration and pairs and the base model's evaluation
/// depend on: the resolved config without [loss], [train] and the [run] keys
/// name, out_dir, log_level and iterations.
std::string exploration_key(const ResolvedConfig& config);

/// The run directory's state.json ({"stages": {}} when absent or unreadable).
nlohmann::json read_run_state(const std::filesystem::path& run_dir);

/// True when `run_dir` has finished explore-1 and pairs-1.
bool has_exploration(const std::filesystem::path& run_dir);

/// Give `cell_dir` the iteration-1 records and pairs and the base evaluation
/// of `donor_dir` (hard links, or copies across file systems) and mark those
/// stages done in its state.json, each stage's record carrying
/// "shared_from": `donor_name`, so the run driver resumes after them.
/// Returns false (and changes nothing) when the donor has no exploration;
/// a cell that already has its own is left as it is.
bool share_exploration(const std::filesystem::path& donor_dir, const std::string& donor_name,
                       const std::filesystem::path& cell_dir);

}  // namespace genius::core
