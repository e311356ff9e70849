// The self-reward audit's numbers (audit.hpp) against independent
// computations: ROC-AUC by counting every (positive, negative) pair, and the
// pair and trajectory metrics on hand-made records whose answers are known.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "eval/audit.hpp"

namespace genius::core {
namespace {

using nlohmann::json;

// AUC by definition: over every (positive, negative) pair, 1 when the
// positive scores higher, 1/2 on a tie.
double brute_force_auc(const std::vector<double>& s, const std::vector<bool>& pos) {
  double wins = 0, pairs = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    for (std::size_t j = 0; j < s.size(); ++j)
      if (pos[i] && !pos[j]) {
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      }
  return wins / pairs;
}

TEST(RocAuc, EqualsTheFractionOfCorrectlyOrderedPairsWithTiesAsHalf) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::uniform_int_distribution<int> n_dist(2, 40), level(0, 5);  // few levels: many ties
    const int n = n_dist(rng);
    std::vector<double> s;
    std::vector<bool> pos;
    for (int i = 0; i < n; ++i) {
      s.push_back(level(rng) * 0.25 - 1.0);
      pos.push_back(rng() % 3 == 0);
    }
    pos[0] = true;
    pos[1] = false;
    const auto auc = roc_auc(s, pos);
    ASSERT_TRUE(auc.has_value());
    EXPECT_NEAR(*auc, brute_force_auc(s, pos), 1e-12) << "trial " << trial;
  }
  EXPECT_DOUBLE_EQ(*roc_auc({0.1, 0.9}, {false, true}), 1.0);
  EXPECT_DOUBLE_EQ(*roc_auc({0.1, 0.9}, {true, false}), 0.0);
  EXPECT_DOUBLE_EQ(*roc_auc({0.5, 0.5, 0.5}, {true, false, true}), 0.5);
  EXPECT_FALSE(roc_auc({0.1, 0.2}, {true, true}).has_value()) << "no negatives";
  EXPECT_FALSE(roc_auc({}, {}).has_value());
}

Candidate candidate(const std::string& trajectory, double score) {
  Candidate c;
  c.trajectory = trajectory;
  c.score = score;
  return c;
}

PreferencePair pair(const std::string& chosen, const std::string& rejected) {
  PreferencePair p;
  p.chosen = chosen;
  p.rejected = rejected;
  return p;
}

// Two items (reference 5). Item A: greedy right, level 2; item B: greedy
// wrong, level 3. Answers are in \boxed{}.
struct Fixture {
  EvalItem a{"2+3", "5", "a", 2}, b{"9-4", "5", "b", 3};
  std::vector<AuditedItem> items;

  Fixture() {
    AuditedItem ia;
    ia.item = &a;
    ia.greedy_right = true;
    StepRecord s1;
    s1.step = 1;
    s1.candidates = {candidate("x \\boxed{5}", -0.1), candidate("y \\boxed{6}", -0.9), candidate("z \\boxed{5}", -0.5)};
    StepRecord s2;
    s2.step = 2;
    s2.candidates = {candidate("u \\boxed{5}", -0.2), candidate("v \\boxed{7}", -0.3)};
    StepRecord skipped;  // light mode: never judged
    skipped.step = 3;
    skipped.foresight_skipped = true;
    skipped.candidates = {candidate("w", 5.0)};
    ia.record.steps = {s1, s2, skipped};
    ia.record.response = "x \\boxed{5}";
    ia.pairs = {pair("x \\boxed{5}", "y \\boxed{6}"),   // one-sided, chosen right
                pair("u \\boxed{5}", "z \\boxed{5}")};  // same answer, both right
    items.push_back(ia);

    AuditedItem ib;
    ib.item = &b;
    ib.greedy_right = false;
    StepRecord t1;
    t1.step = 1;
    t1.candidates = {candidate("p \\boxed{4}", -0.1), candidate("q \\boxed{5}", -0.4), candidate("r", -0.2)};
    ib.record.steps = {t1};
    ib.record.response = "p \\boxed{4}";
    ib.pairs = {pair("p \\boxed{4}", "q \\boxed{5}"),  // one-sided, chosen wrong
                pair("p \\boxed{4}", "r")};            // both wrong, one without an answer
    items.push_back(ib);
  }
};

TEST(AuditMetrics, MeasureTheScoresAndPairsAgainstTheLabels) {
  const Fixture f;
  const json m = audit_metrics(f.items, AnswerJudge(EvalOptions{}));
  EXPECT_EQ(m["items"], 2);
  // All judged trajectories: A: (-0.1 R) (-0.9 W) (-0.5 R) (-0.2 R) (-0.3 W); B: (-0.1 W) (-0.4 R) (-0.2 W).
  const std::vector<double> s = {-0.1, -0.9, -0.5, -0.2, -0.3, -0.1, -0.4, -0.2};
  const std::vector<bool> r = {true, false, true, true, false, false, true, false};
  EXPECT_NEAR(m["audit/value_auc"].get<double>(), brute_force_auc(s, r), 1e-12);
  EXPECT_NEAR(m["audit/value_auc/step_2"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(m["audit/value_auc/step_1"].get<double>(),
              brute_force_auc({-0.1, -0.9, -0.5, -0.1, -0.4, -0.2}, {true, false, true, false, true, false}), 1e-12);
  EXPECT_FALSE(m.contains("audit/value_auc/step_3")) << "a skipped light-mode step is not judged";
  // Within each pool that holds both classes: A step 1 (1.0: both rights above the wrong),
  // A step 2 (1.0), B step 1 (q right at -0.4 below both wrongs: 0.0); the mean is 2/3.
  EXPECT_EQ(m["audit/mixed_pools"], 3);
  EXPECT_NEAR(m["audit/value_auc_within_pool"].get<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m["audit/value_auc_within_pool/greedy_wrong"].get<double>(), 0.0, 1e-12);
  // Pairs: 4, of which 2 one-sided (chosen right in 1), 1 with the same answer, 2 with the chosen side right.
  EXPECT_EQ(m["audit/pairs"], 4);
  EXPECT_EQ(m["audit/one_sided_pairs"], 2);
  EXPECT_DOUBLE_EQ(m["audit/pair_precision"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["audit/same_answer_pairs"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(m["audit/chosen_right"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["audit/tree_has_right"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(m["audit/response_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["audit/greedy_accuracy"].get<double>(), 0.5);
  // The greedy split.
  EXPECT_DOUBLE_EQ(m["audit/pair_precision/greedy_right"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(m["audit/pair_precision/greedy_wrong"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(m["audit/same_answer_pairs/greedy_right"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["audit/same_answer_pairs/greedy_wrong"].get<double>(), 0.0);
  EXPECT_NEAR(m["audit/value_auc/greedy_wrong"].get<double>(),
              brute_force_auc({-0.1, -0.4, -0.2}, {false, true, false}), 1e-12);
  EXPECT_EQ(m["audit/items/greedy_wrong"], 1);
  // Levels.
  EXPECT_DOUBLE_EQ(m["audit/greedy_accuracy/level_2"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(m["audit/greedy_accuracy/level_3"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(m["audit/response_accuracy/level_3"].get<double>(), 0.0);
}

TEST(AuditMetrics, NothingToMeasureIsNullNotZero) {
  Fixture f;
  f.items.pop_back();          // only the greedy-right item
  f.items[0].pairs.resize(1);  // keep one pair
  const json m = audit_metrics(f.items, AnswerJudge(EvalOptions{}));
  EXPECT_TRUE(m["audit/pair_precision/greedy_wrong"].is_null());
  EXPECT_TRUE(m["audit/value_auc/greedy_wrong"].is_null());
  EXPECT_TRUE(m["audit/same_answer_pairs/greedy_wrong"].is_null());
  EXPECT_EQ(m["audit/items/greedy_wrong"], 0);
  EXPECT_DOUBLE_EQ(m["audit/pair_precision"].get<double>(), 1.0);
}

}  // namespace
}  // namespace genius::core

namespace genius::core {
namespace {

// The audit judges with each item's checker: GSM8K's "The answer is N" and
// multiple choice's letters, which \boxed{} extraction would miss.
TEST(AuditMetrics, JudgeWithTheItemsOwnChecker) {
  EvalItem gsm{"q", "2500", "g", std::nullopt, "gsm8k"}, arc{"q", "C", "c", std::nullopt, "choice"};
  AuditedItem ig, ic;
  ig.item = &gsm;
  ig.record.response = "So he earns $2,500. The answer is 2,500.";
  ig.pairs = {pair("The answer is 2500.", "The answer is 2499."),  // one-sided, chosen right
              pair("Total: 2,500 dollars.", "#### 2500")};         // same number, both right
  ic.item = &arc;
  ic.record.response = "Wind is renewable, so the answer is (B).";
  ic.pairs = {pair("The answer is (B).", "Answer: C")};  // one-sided, chosen wrong
  const json m = audit_metrics({ig, ic}, AnswerJudge(EvalOptions{}));
  EXPECT_DOUBLE_EQ(m["audit/response_accuracy"].get<double>(), 0.5);  // gsm right, arc wrong
  EXPECT_DOUBLE_EQ(m["audit/pair_precision"].get<double>(), 0.5);     // of the two one-sided pairs
  EXPECT_DOUBLE_EQ(m["audit/same_answer_pairs"].get<double>(), 1.0 / 3);
  // With the boxed checker forced, none of these responses gives an answer.
  EvalOptions boxed;
  boxed.checker = "boxed";
  const json b = audit_metrics({ig, ic}, AnswerJudge(boxed));
  EXPECT_DOUBLE_EQ(b["audit/response_accuracy"].get<double>(), 0.0);
}

}  // namespace
}  // namespace genius::core
