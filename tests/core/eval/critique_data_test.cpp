// The arith rule checker, the slip classifier and injector, and the
// arith-critique task, each checked against an independent computation
// written here (an evaluator of "a op b=c: rest" lines that knows nothing of
// critique_data.cpp).
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/answer.hpp>
#include <genius/helpers/critique.hpp>

#include "eval/critique_data.hpp"
#include "eval/tasks.hpp"

namespace genius::core {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// An independent reading of a solution: starting from `expression`, each
// line must evaluate its first operation, "v op d=r", and rewrite what is left
// as ": r" + the remaining operations (nothing after the last one); the last
// line boxes the value. Returns that value, or nullopt when a line differs.
std::optional<long> consistent_answer(std::string expression, const std::vector<std::string>& lines) {
  static const std::regex head(R"(^(\d+)([+-])(\d)(.*)$)");
  for (const std::string& l : lines) {
    if (l.rfind("\\boxed{", 0) == 0) {
      if (l != "\\boxed{" + expression + "}") return std::nullopt;
      return std::stol(expression);
    }
    std::smatch m;
    if (!std::regex_match(expression, m, head)) return std::nullopt;
    const long v = std::stol(m[1]), d = std::stol(m[3]), r = m[2] == "+" ? v + d : v - d;
    const std::string rest = m[4];
    const std::string want = m[1].str() + m[2].str() + m[3].str() + "=" + std::to_string(r) +
                             (rest.empty() ? "" : ": " + std::to_string(r) + rest);
    if (l != want) return std::nullopt;
    expression = std::to_string(r) + rest;
  }
  return std::nullopt;
}

Problem arith(int level, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return find_task("arith").generate(rng, level);
}

TEST(SolveArith, EqualsTheTasksOwnSolution) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300; ++i) {
    const Problem p = find_task("arith").generate(rng, 1 + i % 12);
    const auto solved = solve_arith(p.prompt);
    ASSERT_TRUE(solved) << p.prompt;
    EXPECT_EQ(solved->solution, p.solution);
    EXPECT_EQ(solved->answer, p.answer);
  }
  EXPECT_FALSE(solve_arith("7*3"));
  EXPECT_FALSE(solve_arith("7"));
  EXPECT_FALSE(solve_arith("7+10"));
  EXPECT_FALSE(solve_arith("1-5")) << "the task never goes below zero";
}

TEST(LabelSteps, WrongFromTheFirstDifferenceOn) {
  const std::string ref = "7-1=6: 6+9-7\n6+9=15: 15-7\n15-7=8\n\\boxed{8}";
  StepLabels l = label_steps(ref, ref);
  EXPECT_EQ(l.first_error, -1);
  EXPECT_EQ(l.wrong, std::vector<bool>(4, false));
  l = label_steps(ref, "7-1=6: 6+9-7\n6+9=14: 14-7\n14-7=7\n\\boxed{7}");
  EXPECT_EQ(l.first_error, 1);
  EXPECT_EQ(l.wrong, (std::vector<bool>{false, true, true, true}));
  l = label_steps(ref, "7-1=6: 6+9-7\n6+9=15: 15-7\n15-7=8\n\\boxed{8}\nextra");
  EXPECT_EQ(l.first_error, 4) << "an extra step is wrong";
  l = label_steps(ref, "7-1=6: 6+9-7");
  EXPECT_EQ(l.first_error, -1) << "a right prefix has no wrong step (it has no answer either)";
  l = label_steps(ref, "");
  EXPECT_TRUE(l.steps.empty());
}

TEST(ClassifySlip, NamesEachKindAndItsDelta) {
  const Problem p = *solve_arith("7-1+9-7");  // 7-1=6: 6+9-7 / 6+9=15: 15-7 / 15-7=8 / \boxed{8}
  auto slip = [&](const std::string& r) { return classify_slip(p, r); };
  EXPECT_FALSE(slip(p.solution));
  auto s = slip("7-1=6: 6+9-7\n6+9=14: 14-7\n14-7=7\n\\boxed{7}");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, SlipKind::Result);
  EXPECT_EQ(s->delta, -1);
  EXPECT_EQ(s->position, 1);
  s = slip("7-2=5: 5+9-7\n5+9=14: 14-7\n14-7=7\n\\boxed{7}");
  EXPECT_EQ(s->kind, SlipKind::Operand);
  EXPECT_EQ(s->delta, 1);
  s = slip("7+1=8: 8+9-7");
  EXPECT_EQ(s->kind, SlipKind::Operand);
  EXPECT_EQ(s->delta, 0) << "a flipped sign";
  s = slip("7-1=6: 6+9-7\n5+9=14: 14-7");
  EXPECT_EQ(s->kind, SlipKind::Carry);
  EXPECT_EQ(s->delta, -1);
  s = slip("7-1=6: 6+8-7");
  EXPECT_EQ(s->kind, SlipKind::Rest);
  EXPECT_EQ(s->delta, -1);
  s = slip("7-1=6: 6+9+7");
  EXPECT_EQ(s->kind, SlipKind::Rest);
  EXPECT_EQ(s->delta, 0);
  s = slip("7-1=6: 6+9-7\n6+9=15: 15-7\n15-7=8\n\\boxed{9}");
  EXPECT_EQ(s->kind, SlipKind::Boxed);
  EXPECT_EQ(s->delta, 1);
  EXPECT_EQ(s->position, 3);
  s = slip("7-1=6: 6-7");
  EXPECT_EQ(s->kind, SlipKind::Structure) << "a dropped operation";
  s = slip("7-1=6: 6+9-7\n6+9=15: 15-7");
  EXPECT_EQ(s->kind, SlipKind::Structure) << "stopped early";
  EXPECT_EQ(s->position, 2);
  EXPECT_EQ(s->example, "(nothing) | 15-7=8");
}

// Every injected slip: the rule checker finds the first error where the
// injector says it is, the flawed solution is self-consistent from the slip
// on (the independent reading reproduces its answer), the answer is wrong,
// every value is non-negative, and the kinds follow the slip model.
TEST(InjectSlip, OneSlipCarriedOnConsistently) {
  const SlipModel& slips = SlipModel::embedded_default();
  std::mt19937_64 rng(11);
  std::map<SlipKind, int> kinds;
  const int draws = 3000;
  for (int i = 0; i < draws; ++i) {
    const Problem p = arith(2 + i % 5, 100 + std::uint64_t(i));
    const FlawedSolution f = inject_slip(p, slips, rng);
    ++kinds[f.slip.kind];
    const StepLabels labels = label_steps(p.solution, f.solution);
    ASSERT_EQ(labels.first_error, f.first_error) << p.prompt << "\n" << f.solution;
    const auto lines = lines_of(f.solution);
    ASSERT_EQ(lines.size(), lines_of(p.solution).size()) << "same number of steps";
    EXPECT_EQ(f.solution.find("=-"), std::string::npos) << f.solution;
    const auto boxed = extract_boxed(f.solution);
    ASSERT_TRUE(boxed);
    EXPECT_NE(*boxed, p.answer) << "a carried slip changes the answer: " << f.solution;
    if (f.slip.kind == SlipKind::Boxed) continue;
    // After the slipped line, the solution is the right solution of what that line left.
    const std::string& slipped = lines[std::size_t(f.first_error)];
    const auto colon = slipped.find(": ");
    const std::string left =
        colon == std::string::npos ? slipped.substr(slipped.find('=') + 1) : slipped.substr(colon + 2);
    const std::vector<std::string> after(lines.begin() + f.first_error + 1, lines.end());
    const auto answer = consistent_answer(left, after);
    ASSERT_TRUE(answer) << left << " then\n" << f.solution;
    EXPECT_EQ(std::to_string(*answer), *boxed);
    // The slipped line's own arithmetic is right except for a Result slip.
    static const std::regex line(R"(^(\d+)([+-])(\d)=(\d+).*$)");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(slipped, m, line)) << slipped;
    const long v = std::stol(m[1]), d = std::stol(m[3]), c = std::stol(m[4]);
    EXPECT_EQ((m[2] == "+" ? v + d : v - d) == c, f.slip.kind != SlipKind::Result) << slipped;
  }
  const double wrong = double(slips.wrong_responses - slips.kinds.at(SlipKind::Structure));
  for (SlipKind k : {SlipKind::Result, SlipKind::Rest}) {
    const double want = double(slips.kinds.at(k)) / wrong;
    EXPECT_NEAR(double(kinds[k]) / draws, want, 0.03) << to_string(k);
  }
  EXPECT_EQ(kinds[SlipKind::Structure], 0) << "structure slips are not injected";
}

TEST(ArithCritiqueTask, HalfCorrectMonotoneMarksInTheActorsFormat) {
  const Task& task = find_task("arith-critique");
  std::mt19937_64 rng(5);
  int wrong = 0;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    const Problem p = task.generate(rng, 2 + i % 5);
    const auto reference = solve_arith(p.prompt);
    ASSERT_TRUE(reference);
    std::vector<std::string> steps;
    std::vector<bool> marked_wrong;
    for (const std::string& line : lines_of(p.solution)) {
      const bool ok = line.size() > 5 && line.compare(line.size() - 5, 5, " [ok]") == 0;
      const bool bad = line.size() > 8 && line.compare(line.size() - 8, 8, " [wrong]") == 0;
      ASSERT_TRUE(ok != bad) << line;
      steps.push_back(line.substr(0, line.size() - (ok ? 5 : 8)));
      marked_wrong.push_back(bad);
    }
    std::string response;
    for (std::size_t k = 0; k < steps.size(); ++k) response += (k ? "\n" : "") + steps[k];
    const StepLabels labels = label_steps(reference->solution, response);
    EXPECT_EQ(labels.wrong, marked_wrong) << p.solution;  // the marks are the rule checker's labels
    EXPECT_EQ(p.answer, labels.first_error >= 0 ? "wrong" : "correct");
    wrong += p.answer == "wrong";
  }
  EXPECT_NEAR(double(wrong) / n, 0.5, 0.05);
}

TEST(SlipModel, RoundTripsAndNamesBadFields) {
  const SlipModel& m = SlipModel::embedded_default();
  const SlipModel back = SlipModel::from_json(m.to_json());
  EXPECT_EQ(back.kinds, m.kinds);
  EXPECT_EQ(back.deltas, m.deltas);
  EXPECT_EQ(back.positions, m.positions);
  nlohmann::json j = m.to_json();
  j["kinds"]["typo"] = 3;
  EXPECT_THROW(SlipModel::from_json(j), std::runtime_error);
  j = m.to_json();
  j.erase("responses");
  try {
    SlipModel::from_json(j);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("responses"), std::string::npos);
  }
  j = m.to_json();
  j["deltas"]["result"]["x1"] = 2;
  EXPECT_THROW(SlipModel::from_json(j), std::runtime_error);
}

TEST(SlipModel, TheBuiltInOneIsTheCommittedMeasurement) {
  std::ifstream in(std::string(GENIUS_SOURCE_DIR) + "/examples/arith/slips.json");
  ASSERT_TRUE(in);
  const SlipModel file = SlipModel::from_json(nlohmann::json::parse(in));
  const SlipModel& built_in = SlipModel::embedded_default();
  EXPECT_EQ(file.kinds, built_in.kinds);
  EXPECT_EQ(file.deltas, built_in.deltas);
  EXPECT_EQ(file.responses, built_in.responses);
}

}  // namespace
}  // namespace genius::core
