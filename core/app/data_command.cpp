// genius data TASK --train N --eval N [--seed S] [--levels MIN-MAX] --out DIR
//
// Writes DIR/train.jsonl (unlabeled queries: id, instruction, level),
// DIR/eval.jsonl (id, instruction, answer, level) and DIR/task.json (how
// they were made). The eval set is drawn first; training queries are drawn
// from an independent stream and skip every eval prompt and each other, so
// the two files share no prompt.
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>

#include "cli.hpp"
#include "config/suggest.hpp"
#include "eval/tasks.hpp"
#include "io/errors.hpp"

namespace genius::cli {
namespace fs = std::filesystem;

namespace {

core::LevelRange parse_levels(const std::string& text) {
  const auto dash = text.find('-');
  try {
    std::size_t used = 0;
    if (dash == std::string::npos) {
      const int level = std::stoi(text, &used);
      if (used == text.size()) return {level, level};
    } else {
      const int lo = std::stoi(text.substr(0, dash), &used);
      if (used == dash) {
        const std::string rest = text.substr(dash + 1);
        const int hi = std::stoi(rest, &used);
        if (used == rest.size()) return {lo, hi};
      }
    }
  } catch (const std::exception&) {
  }
  throw po::error("--levels must be N or MIN-MAX, not '" + text + "'");
}

// `count` distinct problems of `stream` whose prompts are not in `taken`
// (which receives them). A task whose level range holds too few distinct
// problems is an error, not an endless loop: drawing stops when 10000 draws
// in a row brought nothing new (the range is spent), or after 100 draws per
// problem asked for.
std::vector<core::Problem> draw_distinct(core::ProblemStream& stream, std::size_t count, std::set<std::string>& taken,
                                         const std::string& what) {
  std::vector<core::Problem> out;
  const std::size_t max_draws = 100 * count + 1000, max_stale = 10000;
  for (std::size_t draws = 0, stale = 0; out.size() < count; ++draws) {
    if (draws == max_draws || stale == max_stale)
      throw std::runtime_error("could not draw " + std::to_string(count) + " distinct " + what + " problems (found " +
                               std::to_string(out.size()) +
                               "); the level range holds too few distinct problems: widen --levels or ask for fewer");
    core::Problem p = stream.next();
    if (taken.insert(p.prompt).second) {
      out.push_back(std::move(p));
      stale = 0;
    } else {
      ++stale;
    }
  }
  return out;
}

std::string jsonl(const std::vector<nlohmann::json>& lines) {
  std::string text;
  for (const auto& line : lines) text += line.dump() + "\n";
  return text;
}

}  // namespace

int data_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("task", po::value<std::string>(), "task name (see --list)")(
      "train", po::value<std::size_t>()->default_value(1000), "unlabeled training queries")(
      "eval", po::value<std::size_t>()->default_value(300), "labeled evaluation items")(
      "seed", po::value<std::uint64_t>()->default_value(0), "seed; the same seed gives the same files")(
      "levels", po::value<std::string>(), "difficulty levels, N or MIN-MAX (default: the task's)")(
      "out", po::value<std::string>(), "output directory")("list", "list the tasks and exit");
  po::positional_options_description positional;
  positional.add("task", 1);
  const Parsed vm =
      parse("data", "TASK --train N --eval N [--seed S] [--levels MIN-MAX] --out DIR", args, options, positional,
            [&](const po::variables_map& given) {
              if (!given.count("list"))
                for (const char* required : {"task", "out"})
                  if (!given.count(required))
                    throw po::error(std::string("missing ") + (required == std::string("task") ? "TASK" : "--out"));
            });
  if (!vm) return vm.exit_code;
  if (vm->count("list")) {
    for (const auto& name : core::task_names())
      std::cout << name << "  " << core::find_task(name).description() << "\n";
    return core::kExitOk;
  }
  try {
    const core::Task& task = core::find_task((*vm)["task"].as<std::string>());
    const core::LevelRange levels =
        vm->count("levels") ? parse_levels((*vm)["levels"].as<std::string>()) : task.default_levels();
    core::check_levels(task, levels);
    const auto seed = (*vm)["seed"].as<std::uint64_t>();
    const fs::path out = (*vm)["out"].as<std::string>();

    std::set<std::string> taken;
    core::ProblemStream eval_stream(task, core::task_seed(seed, "eval"), levels);
    const auto eval = draw_distinct(eval_stream, (*vm)["eval"].as<std::size_t>(), taken, "eval");
    core::ProblemStream train_stream(task, core::task_seed(seed, "train"), levels);
    const auto train = draw_distinct(train_stream, (*vm)["train"].as<std::size_t>(), taken, "training");

    std::vector<nlohmann::json> train_lines, eval_lines;
    char id[64];
    for (std::size_t i = 0; i < train.size(); ++i) {
      std::snprintf(id, sizeof id, "%s-train-%06zu", task.name().c_str(), i);
      train_lines.push_back({{"id", id}, {"instruction", train[i].prompt}, {"level", train[i].level}});
    }
    for (std::size_t i = 0; i < eval.size(); ++i) {
      std::snprintf(id, sizeof id, "%s-eval-%06zu", task.name().c_str(), i);
      eval_lines.push_back(
          {{"id", id}, {"instruction", eval[i].prompt}, {"answer", eval[i].answer}, {"level", eval[i].level}});
    }
    core::as_input_error([&] { fs::create_directories(out); });  // --out names a file, an unwritable place
    write_file_atomic(out / "train.jsonl", jsonl(train_lines));
    write_file_atomic(out / "eval.jsonl", jsonl(eval_lines));
    const nlohmann::json meta = {{"task", task.name()},   {"seed", seed},        {"levels", {levels.min, levels.max}},
                                 {"train", train.size()}, {"eval", eval.size()}, {"prompt_key", "instruction"},
                                 {"answer_key", "answer"}};
    write_file_atomic(out / "task.json", meta.dump(2) + "\n");
    std::cout << "wrote " << (out / "train.jsonl").string() << " (" << train.size() << " unlabeled queries) and "
              << (out / "eval.jsonl").string() << " (" << eval.size() << " labeled items), task " << task.name()
              << ", levels " << levels.min << "-" << levels.max << ", seed " << seed << "\n";
    return core::kExitOk;
  } catch (const std::invalid_argument& e) {
    std::cerr << "data: " << core::describe(e) << "\n";
    return core::kExitUsageError;
  } catch (const core::InputError& e) {
    std::cerr << "data: " << e.what() << "\n";
    return core::kExitUsageError;
  } catch (const po::error& e) {
    return usage_error("data", e.what());
  }
}

}  // namespace genius::cli
