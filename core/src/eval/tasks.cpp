#include "eval/tasks.hpp"

#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "config/suggest.hpp"
#include "eval/critique_data.hpp"
#include "io/records_io.hpp"

namespace genius::core {
namespace {

/// A uniform integer in [lo, hi] from the raw generator output (the
/// standard's distributions differ between standard libraries; this does
/// not). The modulo bias is below 1e-17 for these ranges.
int uniform(std::mt19937_64& rng, int lo, int hi) {
  return lo + static_cast<int>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

// Chained single-digit addition and subtraction, "7-1+9-7". Each line
// evaluates the first operation of the expression left and writes what
// remains, the last line boxes the result:
//
//   7-1=6: 6+9-7
//   6+9=15: 15-7
//   15-7=8
//   \boxed{8}
//
// The operands of every operation sit at the start of the line before, and
// the operation is written out next to its result, so a small transformer
// only has to copy nearby text and add: its mistakes are arithmetic slips,
// which the rest of the solution then carries on consistently. A
// subtraction that would go below zero becomes an addition, so every value
// is a non-negative integer. Level = operations.
class ArithTask final : public Task {
 public:
  std::string name() const override { return "arith"; }
  std::string description() const override {
    return "chained single-digit addition/subtraction, one operation evaluated per line (level = operations)";
  }
  LevelRange supported_levels() const override { return {1, 12}; }
  LevelRange default_levels() const override { return {2, 4}; }

  Problem generate(std::mt19937_64& rng, int level) const override {
    Problem p;
    p.level = level;
    std::vector<int> values{uniform(rng, 1, 9)};  // running value after each operation
    std::vector<std::string> ops;                 // "+9", "-7"
    for (int i = 0; i < level; ++i) {
      bool minus = uniform(rng, 0, 1) == 1;
      const int digit = uniform(rng, 1, 9);
      if (minus && values.back() - digit < 0) minus = false;
      values.push_back(minus ? values.back() - digit : values.back() + digit);
      ops.push_back(std::string(minus ? "-" : "+") + std::to_string(digit));
    }
    auto rest = [&](std::size_t done) {  // the expression after `done` operations
      std::string text = std::to_string(values[done]);
      for (std::size_t i = done; i < ops.size(); ++i) text += ops[i];
      return text;
    };
    p.prompt = rest(0);
    for (std::size_t i = 0; i < ops.size(); ++i) {
      p.solution += std::to_string(values[i]) + ops[i] + "=" + std::to_string(values[i + 1]);
      if (i + 1 < ops.size()) p.solution += ": " + rest(i + 1);
      p.solution += "\n";
    }
    p.answer = std::to_string(values.back());
    p.solution += "\\boxed{" + p.answer + "}";
    return p;
  }
};

const std::map<std::string, std::unique_ptr<Task>>& registry() {
  static const auto tasks = [] {
    std::map<std::string, std::unique_ptr<Task>> m;
    auto add = [&](std::unique_ptr<Task> t) { m.emplace(t->name(), std::move(t)); };
    add(std::make_unique<ArithTask>());
    add(make_arith_critique_task(SlipModel::embedded_default()));
    return m;
  }();
  return tasks;
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [name, task] : registry()) names.push_back(name);
  return names;
}

const Task& find_task(const std::string& name) {
  const auto it = registry().find(name);
  if (it != registry().end()) return *it->second;
  std::string message = "unknown task '" + name + "'";
  if (const std::string near = nearest(name, task_names()); !near.empty()) message += " (did you mean '" + near + "'?)";
  message += "; available tasks: " + join(task_names());
  throw std::invalid_argument(message);
}

std::uint64_t task_seed(std::uint64_t seed, const std::string& stream) {
  return query_seed(seed, 0, "task:" + stream);
}

void check_levels(const Task& task, LevelRange levels) {
  const LevelRange ok = task.supported_levels();
  if (levels.min > levels.max)
    throw std::invalid_argument("the minimum level " + std::to_string(levels.min) + " is above the maximum " +
                                std::to_string(levels.max));
  if (levels.min < ok.min || levels.max > ok.max)
    throw std::invalid_argument("task '" + task.name() + "' has levels " + std::to_string(ok.min) + " to " +
                                std::to_string(ok.max) + ", not " + std::to_string(levels.min) + " to " +
                                std::to_string(levels.max));
}

ProblemStream::ProblemStream(const Task& task, std::uint64_t seed, LevelRange levels)
    : task_(task), rng_(seed), levels_(levels) {
  check_levels(task, levels);
}

Problem ProblemStream::next() {
  const auto span = static_cast<std::uint64_t>(levels_.max - levels_.min) + 1;  // max >= min (check_levels)
  const int level = levels_.min + static_cast<int>(drawn_++ % span);
  return task_.generate(rng_, level);
}

}  // namespace genius::core
