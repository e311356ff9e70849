// genius loss eval (--plugin NAME | --config FILE) --input FILE.jsonl [--set loss.KEY=VALUE]... [--json]
//
// Evaluates a loss plugin on log-probs given in a JSONL file (one preference
// pair per line) and prints the loss, the metrics and the gradient of the
// loss with respect to each log-prob input: a way to check a loss by hand,
// or a third-party loss before training with it.
#include <fstream>
#include <iostream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>
#include <genius/loss.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "io/errors.hpp"
#include "plugins/checked_loss.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {
namespace {

struct InputColumn {
  const char* field;
  bool required;  ///< absent -> error (reference columns: only when the loss needs them)
  double fallback;
  bool positive = false;  ///< a token count: must be > 0
};

// Field order = order of the tensors built below.
const InputColumn kColumns[] = {
    {"policy_chosen_logps", true, 0.0},     {"policy_rejected_logps", true, 0.0},
    {"reference_chosen_logps", false, 0.0}, {"reference_rejected_logps", false, 0.0},
    {"chosen_length", false, 1.0, true},    {"rejected_length", false, 1.0, true},
    {"chosen_weight", false, 0.0},          {"rejected_weight", false, 0.0},
    {"chosen_average_weight", false, 0.0},
};
constexpr std::size_t kNumColumns = std::size(kColumns);

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<std::vector<double>> read_pairs(const std::string& file, bool needs_reference) {
  std::ifstream in(file);
  if (!in) throw ParseError(file + ": cannot open");
  std::vector<std::vector<double>> columns(kNumColumns);
  std::string line;
  for (long number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = file + ":" + std::to_string(number) + ": ";
    nlohmann::json pair;
    try {
      pair = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw ParseError(at + "invalid JSON: " + json_error_text(e));
    }
    if (!pair.is_object()) throw ParseError(at + "expected a JSON object");
    for (std::size_t c = 0; c < kNumColumns; ++c) {
      const InputColumn& col = kColumns[c];
      const bool required = col.required || (needs_reference && c < 4);
      if (!pair.contains(col.field)) {
        if (required) throw ParseError(at + "missing field '" + col.field + "'");
        columns[c].push_back(col.fallback);
      } else if (!pair[col.field].is_number()) {
        throw ParseError(at + "field '" + col.field + "' must be a number");
      } else {
        const double value = pair[col.field].get<double>();
        if (col.positive && !(value > 0))
          throw ParseError(at + "field '" + col.field + "' must be a positive number (tokens), got " +
                           pair[col.field].dump());
        columns[c].push_back(value);
      }
    }
  }
  if (columns[0].empty()) throw ParseError(file + ": no pairs (expected one JSON object per line)");
  return columns;
}

}  // namespace

int loss_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("action", po::value<std::string>(), "eval")(
      "plugin", po::value<std::string>()->value_name("NAME"), "the loss plugin")(
      "config", po::value<std::string>()->value_name("FILE"), "take [loss] (and plugin_path) from a run config")(
      "input", po::value<std::string>()->value_name("FILE"),
      "JSONL, one pair per line: policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, "
      "reference_rejected_logps, chosen_length, rejected_length, chosen_weight, rejected_weight, "
      "chosen_average_weight")("set", po::value<std::vector<std::string>>()->value_name("loss.KEY=VALUE"),
                               "override a loss key (repeatable)")("json", "print JSON: loss, metrics, gradients");
  po::positional_options_description positional;
  positional.add("action", 1);
  const Parsed vm =
      parse("loss", "eval (--plugin NAME | --config FILE) --input FILE [--set loss.KEY=VALUE]... [--json]", args,
            options, positional);
  if (!vm) return vm.exit_code;
  if (!vm->count("action") || (*vm)["action"].as<std::string>() != "eval")
    return usage_error("loss", "expected `genius loss eval ...`");
  if (vm->count("plugin") == vm->count("config"))
    return usage_error("loss eval", "give exactly one of --plugin, --config");
  if (!vm->count("input")) return usage_error("loss eval", "missing --input FILE");

  std::shared_ptr<Loss> loss;
  std::optional<core::PluginRegistry> registry;
  try {
    auto overrides = vm->count("set") ? (*vm)["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
    core::RawConfig raw =
        vm->count("config")
            ? core::RawConfig::load((*vm)["config"].as<std::string>(), overrides)
            : core::RawConfig::parse("[loss]\nplugin = " + format_value((*vm)["plugin"].as<std::string>()) + "\n",
                                     "--plugin", overrides);
    registry.emplace(core::discover_plugins(raw.plugin_path()));
    registry->throw_if_errors();
    const core::ResolvedConfig config = core::validate(raw, *registry);
    if (config.plugin("loss").empty()) return usage_error("loss eval", "the config has no [loss] section");
    loss = core::create_configured<Loss>(*registry, config, PluginKind::Loss);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }

  std::vector<std::vector<double>> columns;
  try {
    columns = read_pairs((*vm)["input"].as<std::string>(), loss->needs_reference());
  } catch (const ParseError& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  std::vector<at::Tensor> t;
  t.reserve(columns.size());
  for (auto& column : columns)
    t.push_back(at::tensor(column, at::TensorOptions().dtype(at::kDouble)).requires_grad_(t.size() < 4));
  PreferenceBatch batch{t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]};

  LossOutput out;
  try {
    out = core::compute_loss_checked(*loss, batch);
  } catch (const std::exception& e) {  // the plugin refuses these inputs
    std::cerr << (*vm)["input"].as<std::string>() << ": " << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  out.loss.backward();
  nlohmann::json result = {{"plugin", loss->name()},
                           {"pairs", columns[0].size()},
                           {"loss", out.loss.item<double>()},
                           {"metrics", out.metrics}};
  for (std::size_t c = 0; c < 4; ++c) {
    const at::Tensor& g = t[c].grad();
    std::vector<double> grad(columns[c].size(), 0.0);
    if (g.defined()) grad.assign(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
    result["gradients"][kColumns[c].field] = grad;
  }
  if (vm->count("json")) {
    std::cout << result.dump(2) << "\n";
  } else {
    std::cout << "loss (" << loss->name() << ", " << columns[0].size() << " pairs): " << out.loss.item<double>()
              << "\n";
    for (const auto& [name, value] : out.metrics) std::cout << "  " << name << ": " << value << "\n";
  }
  return core::kExitOk;
}

}  // namespace genius::cli
