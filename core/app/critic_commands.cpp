// The critic's commands (docs/critique.md):
//   genius slips        the base model's first-error distribution on its own samples (slips.json)
//   genius critic-eval  a critic's step AUC, first-error accuracy and response F1 on synthetic
//                       flawed solutions and on an actor's real samples
// Both label with the arith rule checker (critique_data.hpp): measurement and
// critic-data building only; self-training never reads a label.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/answer.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/critique.hpp>
#include <genius/helpers/seeds.hpp>
#include <genius/model_backend.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "eval/critic_eval.hpp"
#include "eval/critique_data.hpp"
#include "eval/evaluator.hpp"
#include "io/errors.hpp"
#include "io/records_io.hpp"
#include "plugins/checked_backend.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Sampling {
  int samples = 4;
  double temperature = 0.6;
  int max_new_tokens = 96;
  std::uint64_t seed = 0;
};

// `samples` responses per prompt, 64 prompts per generate call; the seed of
// prompt i's request is derive(seed, {i}), whatever the batching.
std::vector<std::vector<std::string>> sample_responses(ModelBackend& model, const std::vector<std::string>& prompts,
                                                       const Sampling& s) {
  std::vector<std::vector<std::string>> out(prompts.size());
  constexpr std::size_t kPerCall = 64;
  for (std::size_t start = 0; start < prompts.size(); start += kPerCall) {
    std::vector<GenerationRequest> requests;
    for (std::size_t i = start; i < std::min(prompts.size(), start + kPerCall); ++i) {
      GenerationRequest r;
      r.prompt_ids = model.encode(model.format_chat(prompts[i]));
      r.n = s.samples;
      r.temperature = s.temperature;
      r.max_new_tokens = s.max_new_tokens;
      r.seed = samplers::derive_seed(s.seed, {i});
      requests.push_back(std::move(r));
    }
    const std::vector<GenerationResult> results = model.generate(requests);
    for (std::size_t k = 0; k < results.size(); ++k)
      for (const GeneratedSample& sample : results[k].samples) out[start + k].push_back(sample.text);
  }
  return out;
}

void add_sampling_options(po::options_description& options) {
  options.add_options()("samples", po::value<int>()->default_value(4), "responses sampled per item")(
      "temperature", po::value<double>()->default_value(0.6), "sampling temperature")(
      "max-new-tokens", po::value<int>()->default_value(96), "generation budget per response")(
      "seed", po::value<std::uint64_t>()->default_value(0), "seed of the samples and synthetic solutions")(
      "backend", po::value<std::string>()->default_value("")->value_name("NAME"),
      "model backend plugin (default: the only one installed)")(
      "set", po::value<std::vector<std::string>>()->value_name("model.KEY=VALUE"),
      "backend key for every model, e.g. model.threads=2 (repeatable)")(
      "prompt-key", po::value<std::string>()->default_value("instruction"), "JSON field holding the query")(
      "answer-key", po::value<std::string>()->default_value("answer"), "JSON field holding the reference answer")(
      "items", po::value<std::size_t>()->default_value(0), "use at most this many items; 0 = all")(
      "out", po::value<std::string>()->value_name("FILE"), "also write the result as JSON (atomically)")(
      "json", "print the result as JSON");
}

void check_sampling(const po::variables_map& vm) {
  check_range(vm, "samples", 1);
  if (!(vm["temperature"].as<double>() >= 0) || !std::isfinite(vm["temperature"].as<double>()))
    throw po::error("--temperature must be a finite number >= 0");
  check_range(vm, "max-new-tokens", 1);
}

// The usage check of both commands: the options they need, and sane sampling values.
UsageCheck sampling_check(std::vector<std::string> required) {
  return [required = std::move(required)](const po::variables_map& vm) {
    for (const std::string& name : required)
      if (!vm.count(name)) throw po::error("missing --" + name);
    check_sampling(vm);
    check_range(vm, "threshold", 0, 1);
  };
}

core::PluginRegistry installed_plugins() {
  core::PluginRegistry registry = core::discover_plugins({});
  registry.throw_if_errors();
  return registry;
}

Sampling sampling_of(const po::variables_map& vm) {
  return {vm["samples"].as<int>(), vm["temperature"].as<double>(), vm["max-new-tokens"].as<int>(),
          vm["seed"].as<std::uint64_t>()};
}

std::shared_ptr<core::CheckedBackend> open_model(const core::PluginRegistry& registry, const po::variables_map& vm,
                                                 const std::string& dir) {
  const auto extra = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  return std::make_shared<core::CheckedBackend>(load_backend(registry, vm["backend"].as<std::string>(), dir, extra));
}

// The items of --data: prompts (and, for critic-eval, answers), each an arith query.
std::vector<core::EvalItem> read_items(const po::variables_map& vm, bool with_answers) {
  core::EvalOptions o;
  o.items_file = vm["data"].as<std::string>();
  o.prompt_key = vm["prompt-key"].as<std::string>();
  o.answer_key = vm["answer-key"].as<std::string>();
  o.max_items = vm["items"].as<std::size_t>();
  std::vector<core::EvalItem> items;
  if (with_answers) {
    items = core::load_eval_items(o);
  } else {
    for (const Query& q : core::load_queries(o.items_file, o.prompt_key, o.max_items))
      items.push_back({q.prompt, "", q.id, std::nullopt});
  }
  for (const core::EvalItem& item : items)
    if (!core::solve_arith(item.instruction))
      throw std::runtime_error(o.items_file.string() + ": item '" + item.id + "' is not an arith query ('" +
                               item.instruction + "'): the rule checker labels arith solutions only");
  return items;
}

template <class Body>
int guarded(Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
  }
  return core::kExitUsageError;
}

void emit(const po::variables_map& vm, const json& result) {
  if (vm.count("out")) write_file_atomic(vm["out"].as<std::string>(), result.dump(2) + "\n");
  if (vm.count("json")) std::cout << result.dump(2) << "\n";
}

}  // namespace

// ---------------------------------------------------------------------- slips

int slips_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("model", po::value<std::string>()->value_name("DIR"), "the actor whose slips to measure")(
      "data", po::value<std::string>()->value_name("FILE"), "JSONL of arith queries (no answers needed)");
  add_sampling_options(options);
  const Parsed vm = parse("slips", "--model DIR --data FILE [--samples K] [--temperature T] [--out slips.json]", args,
                          options, sampling_check({"model", "data"}));
  if (!vm) return vm.exit_code;
  return guarded([&] {
    const core::PluginRegistry registry = installed_plugins();
    const std::vector<core::EvalItem> items = read_items(*vm, false);
    auto model = open_model(registry, *vm, (*vm)["model"].as<std::string>());
    std::vector<std::string> prompts;
    for (const auto& item : items) prompts.push_back(item.instruction);
    const auto responses = sample_responses(*model, prompts, sampling_of(*vm));
    core::SlipModel slips;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const core::Problem reference = *core::solve_arith(items[i].instruction);
      for (const std::string& response : responses[i]) {
        ++slips.responses;
        const auto answer = extract_boxed(response);
        slips.correct_answers += answer && same_answer(*answer, reference.answer);
        if (const auto slip = core::classify_slip(reference, response)) {
          ++slips.wrong_responses;
          slips.add(*slip);
        }
      }
    }
    json result = slips.to_json();
    result["model"] = (*vm)["model"].as<std::string>();
    result["data"] = (*vm)["data"].as<std::string>();
    result["temperature"] = (*vm)["temperature"].as<double>();
    if (!vm->count("json")) {
      std::printf("%lld responses, %lld with a wrong step (%.1f%%), %lld right answers\n",
                  static_cast<long long>(slips.responses), static_cast<long long>(slips.wrong_responses),
                  100.0 * double(slips.wrong_responses) / double(std::max<std::int64_t>(1, slips.responses)),
                  static_cast<long long>(slips.correct_answers));
      std::printf("%-10s %7s %7s   most frequent deltas\n", "first error", "count", "share");
      for (const auto& [kind, name] : result["kinds"].items()) {
        const auto n = name.get<std::int64_t>();
        std::string deltas;
        std::vector<std::pair<std::int64_t, std::string>> top;
        for (const auto& [d, c] : result["deltas"][kind].items()) top.emplace_back(c.get<std::int64_t>(), d);
        std::sort(top.rbegin(), top.rend());
        for (std::size_t k = 0; k < std::min<std::size_t>(5, top.size()); ++k)
          deltas += (k ? ", " : "") + top[k].second + " (" + std::to_string(top[k].first) + ")";
        std::printf("%-11s %7lld %6.1f%%   %s\n", kind.c_str(), static_cast<long long>(n),
                    100.0 * double(n) / double(std::max<std::int64_t>(1, slips.wrong_responses)), deltas.c_str());
      }
    }
    emit(*vm, result);
    return int(core::kExitOk);
  });
}

// ---------------------------------------------------------------- critic-eval

namespace {

// Judge `solutions` with the critic (and the actor's own scores when given).
std::vector<core::JudgedSolution> judge_set(ModelBackend& critic, ModelBackend* actor,
                                            const std::vector<critique::Solution>& solutions,
                                            std::vector<core::JudgedSolution> judged) {
  constexpr std::size_t kPerCall = 256;
  for (std::size_t start = 0; start < solutions.size(); start += kPerCall) {
    const std::vector<critique::Solution> chunk(
        solutions.begin() + std::ptrdiff_t(start),
        solutions.begin() + std::ptrdiff_t(std::min(solutions.size(), start + kPerCall)));
    const auto verdicts = critique::judge(critic, chunk);
    std::vector<core::ActorStepScores> actor_scores;
    if (actor) actor_scores = core::actor_step_scores(*actor, chunk);
    for (std::size_t k = 0; k < chunk.size(); ++k) {
      judged[start + k].critic = verdicts[k];
      if (actor) judged[start + k].actor = actor_scores[k];
    }
  }
  return judged;
}

// (a) synthetic: each item's solution, flawed half of the time, as arith-critique makes them.
std::vector<core::JudgedSolution> synthetic_set(ModelBackend& critic, ModelBackend* actor,
                                                const std::vector<core::EvalItem>& items, const core::SlipModel& slips,
                                                std::uint64_t seed) {
  std::mt19937_64 rng(samplers::derive_seed(seed, {7}));
  std::vector<critique::Solution> solutions;
  std::vector<core::JudgedSolution> judged;
  for (const core::EvalItem& item : items) {
    const core::Problem p = *core::solve_arith(item.instruction);
    const bool flawed = rng() % 2 == 1;
    const std::string text = flawed ? core::inject_slip(p, slips, rng).solution : p.solution;
    core::JudgedSolution j;
    j.labels = core::label_steps(p.solution, text);
    j.answer_wrong = flawed;
    judged.push_back(std::move(j));
    solutions.push_back({item.instruction, critique::split_steps(text)});
  }
  return judge_set(critic, actor, solutions, std::move(judged));
}

// (b) the actor's own samples, labelled by the rule checker and the answer checker.
std::vector<core::JudgedSolution> actor_set(ModelBackend& critic, ModelBackend& actor,
                                            const std::vector<core::EvalItem>& items, const Sampling& sampling) {
  std::vector<std::string> prompts;
  for (const auto& item : items) prompts.push_back(item.instruction);
  const auto responses = sample_responses(actor, prompts, sampling);
  std::vector<critique::Solution> solutions;
  std::vector<core::JudgedSolution> judged;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const core::Problem p = *core::solve_arith(items[i].instruction);
    for (const std::string& response : responses[i]) {
      core::JudgedSolution j;
      j.labels = core::label_steps(p.solution, response);
      const auto answer = extract_boxed(response);
      j.answer_wrong = !answer || !same_answer(*answer, items[i].reference);
      judged.push_back(std::move(j));
      solutions.push_back({items[i].instruction, critique::split_steps(response)});
    }
  }
  return judge_set(critic, &actor, solutions, std::move(judged));
}

void print_metrics(const json& sets) {
  std::printf("%-34s", "");
  for (const auto& [name, m] : sets.items()) std::printf(" %18s", name.c_str());
  std::printf("\n");
  auto row = [&](const char* label, const char* group, const char* key, bool percent) {
    std::printf("%-34s", label);
    for (const auto& [name, m] : sets.items()) {
      if (!m.contains(group) || !m[group].contains(key)) {
        std::printf(" %18s", "-");
        continue;
      }
      const double v = m[group][key].get<double>();
      if (v < 0)
        std::printf(" %18s", "n/a");
      else if (percent)
        std::printf(" %17.1f%%", 100 * v);
      else
        std::printf(" %18.3f", v);
    }
    std::printf("\n");
  };
  std::printf("%-34s", "solutions / steps / wrong steps");
  for (const auto& [name, m] : sets.items())
    std::printf(" %18s",
                (std::to_string(m["solutions"].get<long long>()) + "/" + std::to_string(m["steps"].get<long long>()) +
                 "/" + std::to_string(m["wrong_steps"].get<long long>()))
                    .c_str());
  std::printf("\n");
  row("critic step AUC", "critic", "step_auc", false);
  row("critic step AUC (local verdict)", "critic", "step_auc_local", false);
  row("actor step log-prob AUC", "actor_logprob", "step_auc", false);
  row("actor step log-prob AUC (cum.)", "actor_logprob", "step_auc_cumulative", false);
  row("foresight log-prob AUC", "foresight_logprob", "step_auc", false);
  row("critic first-error accuracy", "critic", "first_error_accuracy", true);
  row("  on flawed solutions", "critic", "first_error_accuracy_flawed", true);
  row("critic response F1 (wrong answers)", "critic", "response_f1", false);
  row("  precision", "critic", "response_precision", false);
  row("  recall", "critic", "response_recall", false);
}

}  // namespace

int critic_eval_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("critic", po::value<std::string>()->value_name("DIR"), "the critic model")(
      "actor", po::value<std::string>()->value_name("DIR"),
      "the actor: its samples are judged too, and its own step log-probs measured beside the critic")(
      "data", po::value<std::string>()->value_name("FILE"), "JSONL of labeled arith items (e.g. the eval set)")(
      "slips", po::value<std::string>()->value_name("FILE"),
      "slip distribution of the synthetic solutions (`genius slips`; default: the built-in one)")(
      "threshold", po::value<double>()->default_value(0.5), "a step is flagged when its p(correct) is below this");
  add_sampling_options(options);
  const Parsed vm = parse("critic-eval", "--critic DIR --data FILE [--actor DIR] [--samples K] [--json]", args, options,
                          sampling_check({"critic", "data"}));
  if (!vm) return vm.exit_code;
  return guarded([&] {
    const core::PluginRegistry registry = installed_plugins();
    const std::vector<core::EvalItem> items = read_items(*vm, true);
    core::SlipModel slips = core::SlipModel::embedded_default();
    if (vm->count("slips")) {
      const std::string file = (*vm)["slips"].as<std::string>();
      try {
        slips = core::SlipModel::from_json(json::parse(read_file(file)));
      } catch (const std::exception& e) {
        throw std::runtime_error(file + ": not a slip distribution: " + core::describe(e));
      }
    }
    auto critic = open_model(registry, *vm, (*vm)["critic"].as<std::string>());
    std::shared_ptr<core::CheckedBackend> actor;
    if (vm->count("actor")) actor = open_model(registry, *vm, (*vm)["actor"].as<std::string>());
    const double threshold = (*vm)["threshold"].as<double>();
    json sets = json::object();

    sets["synthetic"] = core::critic_metrics(
        synthetic_set(*critic, actor.get(), items, slips, (*vm)["seed"].as<std::uint64_t>()), threshold);
    if (actor)
      sets["actor_samples"] = core::critic_metrics(actor_set(*critic, *actor, items, sampling_of(*vm)), threshold);
    json result = {{"critic", (*vm)["critic"].as<std::string>()},
                   {"data", (*vm)["data"].as<std::string>()},
                   {"threshold", threshold},
                   {"sets", sets}};
    if (actor) result["actor"] = (*vm)["actor"].as<std::string>();
    if (!vm->count("json")) print_metrics(sets);
    emit(*vm, result);
    return int(core::kExitOk);
  });
}

}  // namespace genius::cli
