// The value estimators (foresight-logprob, sequence-logprob, majority-vote)
// through the real plugin path, on the tiny model of
// tests/samplers/sampler_test_util.hpp (part of the sampler_test executable).
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/value_estimator.hpp>

#include "sampler_test_util.hpp"  // tests/samplers

namespace genius::sampler_test {
namespace {

// ------------------------------------------------------------- value plugins

Candidate candidate(int parent, std::string trajectory = "") {
  Candidate c;
  c.parent_beam = parent;
  c.beam_logprob = -6.0;
  c.beam_tokens = 3;
  c.step_logprob = -2.0;
  c.step_tokens = 2;
  c.rollout_logprob = -3.0;
  c.rollout_tokens = 6;
  c.trajectory = std::move(trajectory);
  return c;
}

TEST(ForesightLogprob, ScopesCoverTheRolloutTheStepAndTheWholeResponseOnOneBasisPerPool) {
  const std::vector<double> parents = {0.0, -0.5};
  auto scored = [&](const std::string& scope) {
    std::vector<Candidate> cs = {candidate(0), candidate(1), candidate(1)};
    cs[2].rollout_logprob = 0;
    cs[2].rollout_tokens = 0;  // complete or light mode: no rollout
    value("foresight-logprob", "scope = \"" + scope + "\"\n")->score(kQueries[0], cs, parents, *tiny_model());
    return cs;
  };
  // A pool with a member that has no rollout: every member on step + rollout.
  const auto rollout = scored("rollout");
  EXPECT_DOUBLE_EQ(rollout[0].score, -5.0 / 8) << "the pool's basis: step + rollout";
  EXPECT_DOUBLE_EQ(rollout[1].advantage, -5.0 / 8 + 0.5);
  EXPECT_DOUBLE_EQ(rollout[2].score, -2.0 / 2) << "scored on the step";
  // A pool whose members all have rollouts: the rollouts alone (the paper).
  std::vector<Candidate> rolled = {candidate(0), candidate(1)};
  rolled[1].rollout_logprob = -1.0;
  rolled[1].rollout_tokens = 4;
  value("foresight-logprob")->score(kQueries[0], rolled, parents, *tiny_model());
  EXPECT_DOUBLE_EQ(rolled[0].score, -3.0 / 6);
  EXPECT_DOUBLE_EQ(rolled[1].score, -1.0 / 4);
  EXPECT_DOUBLE_EQ(rolled[1].advantage, -1.0 / 4 + 0.5);
  const auto step_rollout = scored("step_rollout");
  EXPECT_DOUBLE_EQ(step_rollout[0].score, -5.0 / 8);
  EXPECT_DOUBLE_EQ(step_rollout[2].score, -2.0 / 2);
  const auto response = scored("response");
  EXPECT_DOUBLE_EQ(response[0].score, -11.0 / 11);
  EXPECT_DOUBLE_EQ(response[1].advantage, -1.0 + 0.5);
  EXPECT_DOUBLE_EQ(response[2].score, -8.0 / 5);
}

TEST(ForesightLogprob, RefusesCandidatesItCannotScore) {
  auto v = value("foresight-logprob");
  std::vector<Candidate> bad_parent = {candidate(2)};
  try {
    v->score(kQueries[0], bad_parent, {0.0}, *tiny_model());
    FAIL() << "expected a PluginError";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "foresight-logprob");
    EXPECT_THAT(e.what(), HasSubstr("parent beam 2"));
  }
  std::vector<Candidate> empty = {Candidate{}};
  EXPECT_THROW(v->score(kQueries[0], empty, {0.0}, *tiny_model()), PluginError);
  std::vector<Candidate> nan = {candidate(0)};
  nan[0].step_logprob = std::nan("");
  EXPECT_THROW(v->score(kQueries[0], nan, {0.0}, *tiny_model()), PluginError);
}

TEST(SequenceLogprob, IsTheMeanLogprobOfTheWholeResponse) {
  std::vector<Candidate> cs = {candidate(0), candidate(1)};
  value("sequence-logprob")->score(kQueries[0], cs, {0.0, -2.0}, *tiny_model());
  EXPECT_DOUBLE_EQ(cs[0].score, -11.0 / 11);
  EXPECT_DOUBLE_EQ(cs[1].advantage, -1.0 + 2.0);
}

TEST(MajorityVote, ScoresAreTheShareOfThePoolWithTheSameAnswer) {
  std::vector<Candidate> cs = {candidate(0, "x \\boxed{3}"), candidate(0, "y \\boxed{ 3.0 }"),
                               candidate(1, "z \\boxed{5}"), candidate(1, "no answer")};
  value("majority-vote")->score(kQueries[0], cs, {0.25, 0.0}, *tiny_model());
  EXPECT_DOUBLE_EQ(cs[0].score, 0.5);
  EXPECT_DOUBLE_EQ(cs[1].score, 0.5);
  EXPECT_DOUBLE_EQ(cs[2].score, 0.25);
  EXPECT_DOUBLE_EQ(cs[3].score, 0.0);
  EXPECT_DOUBLE_EQ(cs[0].advantage, 0.25);
  EXPECT_DOUBLE_EQ(cs[2].advantage, 0.25);
  EXPECT_EQ(cs[1].answer, " 3.0 ");
  EXPECT_EQ(cs[3].answer, "");
  // A regex answer pattern: the first group of the last match.
  std::vector<Candidate> rs = {candidate(0, "answer: 4"), candidate(0, "answer: 2 then answer: 4")};
  value("majority-vote", "answer_pattern = \"answer: (\\\\d+)\"\n")->score(kQueries[0], rs, {0.0}, *tiny_model());
  EXPECT_EQ(rs[1].answer, "4");
  EXPECT_DOUBLE_EQ(rs[1].score, 1.0);
  EXPECT_THROW(value("majority-vote", "answer_pattern = \"(\"\n"), PluginError);
}

}  // namespace
}  // namespace genius::sampler_test
