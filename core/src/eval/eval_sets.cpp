#include "eval/eval_sets.hpp"

#include <algorithm>
#include <map>

#include <genius/error.hpp>

#include "config/config.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The metrics every set of one evaluation reports (same [eval] settings).
const char* const kAveraged[] = {"greedy_accuracy", "greedy_answered", "pass@1", "sampled_answered"};

}  // namespace

std::string metric_key(const EvalSet& set, const std::string& metric) {
  return set.name.empty() ? metric : set.name + "/" + metric;
}

std::vector<EvalSet> eval_sets(const ResolvedConfig& config, std::uint64_t seed) {
  const ConfigView data = config.view("data");
  const EvalOptions base = EvalOptions::from_config(config.view("eval"), data, seed);
  std::vector<EvalSet> sets;
  std::map<std::string, std::string> taken = {{"average", "the table's average column"}};  // column -> its key
  auto claim = [&](const std::string& label, const std::string& origin) {
    if (auto [it, fresh] = taken.emplace(label, origin); !fresh)
      throw ConfigError(origin + ": '" + label + "' is also the name of " + it->second +
                        " (their columns and metrics would share a name)");
  };
  if (!base.items_file.empty()) {
    const std::string stem = base.items_file.stem().string();
    claim(stem, "[data] eval");
    sets.push_back({"", stem, base});
  }
  const auto extra = data.get<std::vector<std::string>>("extra_eval");
  if (!extra.empty() && base.items_file.empty())
    throw ConfigError("data.extra_eval is set but [data] eval is not: the extra sets are evaluated beside it");
  for (const std::string& file : extra) {
    const std::string stem = fs::path(file).stem().string();
    claim(stem, "data.extra_eval file '" + file + "'");
    EvalSet set{stem, stem, base};
    set.options.items_file = file;
    set.options.max_items = 0;
    sets.push_back(std::move(set));
  }
  const std::vector<ConfigView> entries = config.table_array("eval", "sets");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ConfigView& entry = entries[i];
    const std::string key = "eval.sets[" + std::to_string(i) + "]";
    EvalSet set{entry.get<std::string>("name"), entry.get<std::string>("name"), base};
    claim(set.name, key + ".name");
    set.options.items_file = entry.get<std::string>("file");
    set.options.checker = entry.get<std::string>("checker");
    set.options.shots = entry.get<std::size_t>("shots");
    set.options.shots_file = entry.get<std::string>("shots_file");
    set.options.max_items = entry.get<std::size_t>("max_items");
    if (set.options.shots > 0 && set.options.shots_file.empty())
      throw ConfigError(key + ".shots = " + std::to_string(set.options.shots) +
                        " needs its shots_file (the exemplars)");
    sets.push_back(std::move(set));
  }
  return sets;
}

std::string benchmark_metric(const ResolvedConfig& config) {
  return config.view("eval").get<bool>("greedy") ? "greedy_accuracy" : "pass@1";
}

void add_averages(json& record, const std::vector<EvalSet>& sets) {
  if (sets.size() < 2) return;
  for (const char* metric : kAveraged) {
    double sum = 0;
    bool all = true;
    for (const EvalSet& set : sets) {
      auto it = record.find(metric_key(set, metric));
      all = all && it != record.end() && it->is_number();
      if (all) sum += it->get<double>();
    }
    if (all) record[std::string("average/") + metric] = sum / static_cast<double>(sets.size());
  }
}

json benchmark_table(const std::vector<EvalSet>& sets, const std::string& metric, const std::vector<json>& records) {
  const bool named = std::any_of(sets.begin(), sets.end(), [](const EvalSet& s) { return !s.name.empty(); });
  if (!named) return nullptr;
  json labels = json::array(), rows = json::array();
  for (const EvalSet& set : sets) labels.push_back(set.label);
  for (const json& record : records) {
    json row = {{"iteration", record.value("iteration", 0)}};
    for (const EvalSet& set : sets) {
      auto it = record.find(metric_key(set, metric));
      row[set.label] = it != record.end() && it->is_number() ? *it : json(nullptr);
    }
    if (sets.size() >= 2) {
      auto it = record.find("average/" + metric);
      row["average"] = it != record.end() && it->is_number() ? *it : json(nullptr);
    }
    rows.push_back(std::move(row));
  }
  return {{"metric", metric}, {"sets", labels}, {"rows", rows}};
}

}  // namespace genius::core
