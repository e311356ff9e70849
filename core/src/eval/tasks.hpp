// Synthetic reasoning tasks with step-by-step solutions (docs/tasks.md).
//
// A task draws problems deterministically from a seed. Each problem has a
// prompt (the query), a solution in the framework's step format (one step
// per line, the last line `\boxed{answer}`), its answer and a difficulty
// level. `genius data` writes unlabeled training queries and a labeled,
// disjoint eval set; `genius pretrain` trains a base model on solutions of
// further problems (never those of the data files).
//
//   const Task& task = find_task("arith");            // throws, listing the tasks
//   ProblemStream stream(task, task_seed(7, "eval"), {2, 4});
//   Problem p = stream.next();
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace genius::core {

struct Problem {
  std::string prompt;    ///< the query, e.g. "7-1+9-7"
  std::string solution;  ///< "7-1=6\n6+9=15\n15-7=8\n\boxed{8}"
  std::string answer;    ///< "8"
  int level = 0;         ///< difficulty: the number of reasoning steps before the answer
};

/// Difficulty levels to draw from, inclusive.
struct LevelRange {
  int min = 0;
  int max = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  /// The levels this task can generate, and its default range.
  virtual LevelRange supported_levels() const = 0;
  virtual LevelRange default_levels() const = 0;
  /// One problem of difficulty `level`, drawn with `rng` (mt19937_64, whose
  /// output sequence the C++ standard fixes: the same on every platform).
  virtual Problem generate(std::mt19937_64& rng, int level) const = 0;
};

/// Every registered task, by name.
std::vector<std::string> task_names();
/// The task called `name`; throws std::invalid_argument listing the tasks
/// (with a did-you-mean) when there is none.
const Task& find_task(const std::string& name);

/// A seed for one stream of a task ("eval", "train", "pretrain") derived from
/// the user's seed, so that the streams are independent.
std::uint64_t task_seed(std::uint64_t seed, const std::string& stream);

/// Problems drawn one after another; the level cycles through the range
/// (min, min+1, ..., max, min, ...) so every level is equally represented.
class ProblemStream {
 public:
  ProblemStream(const Task& task, std::uint64_t seed, LevelRange levels);
  Problem next();

 private:
  const Task& task_;
  std::mt19937_64 rng_;
  LevelRange levels_;
  std::uint64_t drawn_ = 0;
};

/// Check a level range against the task's; throws std::invalid_argument.
void check_levels(const Task& task, LevelRange levels);

}  // namespace genius::core
