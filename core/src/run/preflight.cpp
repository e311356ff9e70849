#include "run/preflight.hpp"

#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <genius/error.hpp>

#include "config/config.hpp"
#include "config/config_schema.hpp"
#include "eval/audit.hpp"
#include "eval/eval_sets.hpp"
#include "eval/evaluator.hpp"
#include "run/run_driver.hpp"
#include "train/optimizer.hpp"

namespace genius::core {

namespace {

// Which inputs a core path key belongs to (0: not an input: outputs, the
// plugin path; plugins check their own keys when they are created).
unsigned input_kind(const std::string& key) {
  if (key == "data.train") return kTrainInputs;
  if (key == "data.eval" || key == "data.extra_eval" || key == "eval.shots_file") return kEvalInputs;
  if (key == "audit.file") return kAuditInputs;
  if (key == "pretrain.init_from" || key == "pretrain.slips") return kPretrainInputs;
  return 0;
}

// Every input file among `inputs` that a core key names exists.
void check_input_files(const ResolvedConfig& config, unsigned inputs) {
  namespace fs = std::filesystem;
  auto check = [](const std::string& key, const std::string& value, bool directory) {
    if (value.empty()) return;
    std::error_code ec;
    const fs::file_status st = fs::status(value, ec);
    if (!fs::exists(st)) throw ConfigError(key + ": '" + value + "' does not exist");
    if (directory && !fs::is_directory(st)) throw ConfigError(key + ": '" + value + "' is not a directory");
    if (!directory && fs::is_directory(st)) throw ConfigError(key + ": '" + value + "' is a directory, not a file");
  };
  for (const std::string& section : config_sections())
    for (const ConfigKey& key : core_keys(section)) {
      const std::string name = section + "." + key.name;
      if (!key.is_path || !(input_kind(name) & inputs)) continue;
      const ConfigView view = config.view(section);
      const bool directory = name == "pretrain.init_from";
      if (key.type() == ValueType::String) check(name, view.get<std::string>(key.name), directory);
      if (key.type() == ValueType::StringList)
        for (const std::string& v : view.get<std::vector<std::string>>(key.name)) check(name, v, directory);
    }
  if (!(inputs & kEvalInputs)) return;
  const std::vector<ConfigView> sets = config.table_array("eval", "sets");
  for (std::size_t i = 0; i < sets.size(); ++i)
    for (const char* key : {"file", "shots_file"})
      check("eval.sets[" + std::to_string(i) + "]." + key, sets[i].get<std::string>(key), false);
}

// The records of every input file read as the run will read them: a bad line
// is refused now, naming file:line, not after the base evaluation.
void check_input_data(const ResolvedConfig& config, unsigned inputs, const std::vector<EvalSet>& sets,
                      const AuditOptions& audit) {
  try {
    if ((inputs & kTrainInputs) && !config.view("data").get<std::string>("train").empty()) explore_queries(config, 1);
    if ((inputs & kEvalInputs) && config.view("eval").get<bool>("enabled"))
      for (const EvalSet& set : sets) load_eval_items(set.options);
    if ((inputs & kAuditInputs) && audit.enabled()) load_probe_items(audit);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw ConfigError(e.what());
  }
}

// A cross-key problem ("section.key: message" or "section.key = v needs
// ..."), located at the key's line when the message begins with a key.
[[noreturn]] void throw_located(const ResolvedConfig& config, const std::string& message) {
  std::size_t end = 0;
  while (end < message.size() && (std::islower(static_cast<unsigned char>(message[end])) ||
                                  std::isdigit(static_cast<unsigned char>(message[end])) ||
                                  std::string_view("_.[]").find(message[end]) != std::string_view::npos))
    ++end;
  const std::string full = message.substr(0, end);  // "eval.sets[1].file"
  const std::string key = full.substr(0, full.find('['));
  const bool keyed = key.find('.') != std::string::npos && end < message.size() &&
                     (message.compare(end, 2, ": ") == 0 || message[end] == ' ');
  if (!keyed) throw ConfigValidationError({{{config.file().string(), 0, 0}, "", message}});
  const SourceLocation at = config.where(full).line > 0 ? config.where(full) : config.where(key);
  if (message.compare(end, 2, ": ") == 0) throw ConfigValidationError({{at, full, message.substr(end + 2)}});
  throw ConfigValidationError({{at, "", message}});
}

void checks(const ResolvedConfig& config, unsigned inputs) {
  const auto seed = config.view("run").get<std::uint64_t>("seed");
  const std::vector<EvalSet> sets = eval_sets(config, seed);
  answer_extractor(config.view("eval").get<std::string>("answer_regex"));
  const AuditOptions audit = AuditOptions::from_config(config, seed);
  TrainOptions::from_config(config.view("train"), seed);
  const auto levels = config.view("pretrain").get<std::vector<std::int64_t>>("levels");
  if (levels.size() == 1) throw ConfigError("pretrain.levels: expected [min, max] (or [] for the task's default)");
  if (levels.size() == 2 && levels[0] > levels[1])
    throw ConfigError("pretrain.levels: [" + std::to_string(levels[0]) + ", " + std::to_string(levels[1]) +
                      "] has min > max");
  check_input_files(config, inputs);  // last: a wrong config is reported as such, not as a missing file
  check_input_data(config, inputs, sets, audit);
}

}  // namespace

void preflight(const ResolvedConfig& config, unsigned inputs) {
  try {
    checks(config, inputs);
  } catch (const ConfigError& e) {
    throw_located(config, e.what());
  }
}

}  // namespace genius::core
