// The critique line on hand-made pools (part of the sampler_test executable):
// the one-pass verdict reading of <genius/helpers/critique.hpp>, the `critic`
// value estimator, the `critique-refine` sampler and the `phi-decoding`
// sampler. The critic is a rule critic written here: it gives the " [ok]"
// mark probability 0.9 after a step the arith rule checker calls right and
// 0.2 after a wrong one, so every expected number is computed independently.
#include <cmath>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/helpers/critique.hpp>

#include "byte_backend.hpp"
#include "eval/critique_data.hpp"
#include "sampler_test_util.hpp"

namespace genius::sampler_test {
namespace {

constexpr double kRight = 0.9, kWrong = 0.2;

// Byte tokens; format_chat(q) = "Q:" + q + "\n". token_logprobs spreads the
// log of the mark probability over the mark's "o" token (every other token
// gets log 1 = 0), after reading the steps and labelling them with the rule
// checker. Records what it scored.
class RuleCritic final : public test::ByteBackend {
 public:
  RuleCritic() : ByteBackend("rule-critic") {}
  std::vector<std::vector<ScoringExample>> scored;

  std::string format_chat(std::string_view q) const override { return "Q:" + std::string(q) + "\n"; }
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& batch) override {
    scored.push_back(batch);
    std::vector<std::vector<double>> out;
    for (const ScoringExample& e : batch) {
      const std::string prompt = decode(e.prompt_ids), text = decode(e.response_ids);
      const std::string query = prompt.substr(2, prompt.size() - 3);
      const auto reference = core::solve_arith(query);
      std::string steps;
      std::vector<double> lp(e.response_ids.size(), 0.0);
      std::size_t pos = 0, k = 0;
      while (true) {
        const std::size_t mark = text.find(" [ok]", pos);
        if (mark == std::string::npos) break;
        steps += (k++ ? "\n" : "") + text.substr(pos, mark - pos);
        const auto labels = core::label_steps(reference ? reference->solution : "", steps);
        lp[mark + 2] = std::log(labels.wrong.back() ? kWrong : kRight);  // the 'o' of " [ok]"
        pos = mark + 6;                                                  // past " [ok]\n"
      }
      out.push_back(std::move(lp));
    }
    return out;
  }
};

const std::string kQuery = "7-1+9-7";
const std::string kRightSolution = "7-1=6: 6+9-7\n6+9=15: 15-7\n15-7=8\n\\boxed{8}";
const std::string kSlipAt1 = "7-1=6: 6+9-7\n6+9=14: 14-7\n14-7=7\n\\boxed{7}";

TEST(CritiqueHelper, OnePassGivesEveryStepsVerdict) {
  RuleCritic critic;
  const auto verdicts = critique::judge(
      critic,
      {{kQuery, critique::split_steps(kRightSolution)}, {kQuery, critique::split_steps(kSlipAt1)}, {kQuery, {}}});
  ASSERT_EQ(critic.scored.size(), 1u) << "one teacher-forced call";
  ASSERT_EQ(critic.scored[0].size(), 2u) << "a solution without steps is not scored";
  EXPECT_EQ(critic.decode(critic.scored[0][1].response_ids),
            "7-1=6: 6+9-7 [ok]\n6+9=14: 14-7 [ok]\n14-7=7 [ok]\n\\boxed{7} [ok]\n");
  ASSERT_EQ(verdicts[0].p_ok.size(), 4u);
  for (double p : verdicts[0].p_ok) EXPECT_NEAR(p, kRight, 1e-12);
  EXPECT_EQ(verdicts[0].first_error(), -1);
  EXPECT_NEAR(verdicts[0].p_correct(), std::pow(kRight, 4), 1e-12);
  EXPECT_THAT(verdicts[1].p_ok,
              ::testing::ElementsAre(::testing::DoubleNear(kRight, 1e-12), ::testing::DoubleNear(kWrong, 1e-12),
                                     ::testing::DoubleNear(kWrong, 1e-12), ::testing::DoubleNear(kWrong, 1e-12)));
  EXPECT_EQ(verdicts[1].first_error(), 1);
  EXPECT_NEAR(verdicts[1].p_wrong(1), 1 - kRight * kWrong, 1e-12);
  EXPECT_NEAR(verdicts[1].p_wrong(0), 1 - kRight, 1e-12);
  EXPECT_EQ(verdicts[2].p_correct(), 0.0) << "no steps, no answer";
  EXPECT_EQ(critique::render({"a", "b"}, {false, true}), "a [ok]\nb [wrong]\n");
  EXPECT_EQ(critique::split_steps("a\n\nb\n"), (std::vector<std::string>{"a", "b"}));
}

// Keys of a plugin section that asks for a critic, plus the [critic] section validation requires.
std::string with_critic(const std::string& keys) {
  return keys + "\n[critic]\nplugin = \"torch-llama\"\npath = \"" + model_dir().string() + "\"\n";
}

// A value estimator with the rule critic attached, behind the host's checks.
std::shared_ptr<ValueEstimator> critic_value(RuleCritic& critic, const std::string& keys) {
  auto plugin = registry().create_as<ValueEstimator>(PluginKind::ValueEstimator, "critic",
                                                     config("value", "critic", with_critic(keys)).view("value"));
  plugin->attach_model("critic", critic);
  return std::make_shared<HostValues>(plugin);
}

Candidate candidate(const std::string& beam, const std::string& step, const std::string& rollout) {
  Candidate c;
  c.step = step;
  c.rollout = rollout;
  c.trajectory = beam + step + (rollout.empty() ? "" : "\n" + rollout);
  c.step_logprob = -1.0, c.step_tokens = 4;
  c.rollout_logprob = -3.0, c.rollout_tokens = 6;
  c.beam_logprob = -2.0, c.beam_tokens = 10;
  return c;
}

TEST(CriticValue, AggregatesTheJudgedStepsOfEachScope) {
  RuleCritic critic;
  // The candidate step is right, its rollout slips: only the trajectory scope sees the slip.
  const std::string beam = "7-1=6: 6+9-7\n";
  std::vector<Candidate> pool = {candidate(beam, "6+9=15: 15-7", "15-7=9\n\\boxed{9}"),
                                 candidate(beam, "6+9=14: 14-7", "14-7=7\n\\boxed{7}")};
  const Query q{"q", kQuery, 1};
  auto scored = [&](const std::string& keys) {
    auto pool_copy = pool;
    critic_value(critic, keys)->score(q, pool_copy, {0.25}, *tiny_model());
    return pool_copy;
  };
  auto p = scored("aggregate = \"min\"\n");
  EXPECT_NEAR(p[0].score, kRight, 1e-12);
  EXPECT_NEAR(p[1].score, kWrong, 1e-12);
  EXPECT_NEAR(p[1].advantage, kWrong - 0.25, 1e-12) << "the host's A = score - q(parent)";
  p = scored("aggregate = \"min\"\nscope = \"trajectory\"\n");
  EXPECT_NEAR(p[0].score, kWrong, 1e-12);
  p = scored("aggregate = \"mean\"\nscope = \"trajectory\"\n");
  EXPECT_NEAR(p[0].score, (kRight + kRight + kWrong + kWrong) / 4, 1e-12);
  p = scored("aggregate = \"last\"\n");
  EXPECT_NEAR(p[1].score, kWrong, 1e-12);
  p = scored("aggregate = \"product\"\n");
  EXPECT_NEAR(p[0].score, kRight * kRight, 1e-12);
  EXPECT_NEAR(p[1].score, kRight * kWrong, 1e-12);
  p = scored("logprob_weight = 0.5\nlogprob_scope = \"response\"\n");
  EXPECT_NEAR(p[0].score, kRight + 0.5 * (-6.0 / 20), 1e-12);
  p = scored("logprob_weight = 2\nlogprob_scope = \"rollout\"\n");
  EXPECT_NEAR(p[1].score, kWrong + 2 * (-3.0 / 6), 1e-12);
}

TEST(CriticValue, WithoutAttachedCriticOrSectionItIsRefused) {
  auto plugin = registry().create_as<ValueEstimator>(PluginKind::ValueEstimator, "critic",
                                                     config("value", "critic", with_critic("")).view("value"));
  std::vector<Candidate> pool = {candidate("", kRightSolution, "")};
  EXPECT_THROW(plugin->score({"q", kQuery, 1}, pool, {0.0}, *tiny_model()), PluginError);
  EXPECT_THROW(plugin->attach_model("judge", *tiny_model()), PluginError);
  try {
    core::validate(core::RawConfig::parse("[value]\nplugin = \"critic\"\n", "test.toml"), registry());
    FAIL() << "a config selecting `critic` without [critic] is refused";
  } catch (const core::ConfigValidationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("needs a [critic] section"));
    EXPECT_THAT(e.what(), HasSubstr("test.toml"));
  }
}

// The actor of the critique-refine tests: n = 4 responses (two right, two that
// slip at step 1) for the query, and for a refinement prompt (the chat prompt
// plus kept steps) the right rest of the solution.
RecordingBackend::Script refine_script(const ModelBackend& actor, int wrong_first = 2) {
  return [&actor, wrong_first](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out;
    for (const GenerationRequest& r : requests) {
      const std::string prompt = actor.decode(r.prompt_ids), chat = actor.format_chat(kQuery);
      GenerationResult result;
      const std::string kept = prompt.substr(chat.size());
      if (r.n > 1) {
        for (int s = 0; s < r.n; ++s)
          result.samples.push_back(sample(s < wrong_first ? kSlipAt1 : kRightSolution, 20, -4.0, FinishReason::Eos));
      } else {
        EXPECT_EQ(kRightSolution.rfind(kept, 0), 0u) << "a refinement keeps right steps only: " << kept;
        result.samples.push_back(sample(kRightSolution.substr(kept.size()), 12, -2.0, FinishReason::Eos));
      }
      out.push_back(std::move(result));
    }
    return out;
  };
}

std::shared_ptr<Sampler> refine_sampler(RuleCritic& critic, const std::string& keys) {
  auto s = sampler("critique-refine", with_critic("n = 4\nmax_tokens = 32\n" + keys));
  s->attach_model("critic", critic);
  return s;
}

TEST(CritiqueRefine, RefinesFromTheFlaggedStepAndPairsRefinementWithOriginal) {
  RuleCritic critic;
  RecordingBackend actor(tiny_model());
  actor.script = refine_script(actor);
  auto values = critic_value(critic, "scope = \"trajectory\"\naggregate = \"product\"\n");
  const Query q{"q", kQuery, 5};
  const auto records = refine_sampler(critic, "rounds = 2\n")->explore({q}, actor, *values);
  ASSERT_EQ(actor.calls.size(), 2u) << "the responses, then one round: every refinement is accepted";
  ASSERT_EQ(actor.calls[1].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(actor.decode(actor.calls[1][i].prompt_ids), actor.format_chat(kQuery) + "7-1=6: 6+9-7\n")
        << "resampled from the flagged step 1";
    EXPECT_EQ(actor.calls[1][i].seed, derive(q.seed, {2, 1, i}));
  }
  const ExplorationRecord& r = records[0];
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].selected, (std::vector<int>{2, 3})) << "the critic accepts the right originals";
  EXPECT_EQ(r.steps[1].selected, (std::vector<int>{0, 1}));
  EXPECT_EQ(r.steps[1].candidates[0].parent_beam, 0);
  EXPECT_EQ(r.steps[1].candidates[1].parent_beam, 1);
  EXPECT_EQ(r.response, kRightSolution);
  const auto pairs = refine_sampler(critic, "")->make_pairs(r, 0);
  ASSERT_EQ(pairs.size(), 2u);
  for (const auto& p : pairs) {
    EXPECT_EQ(p.chosen, kRightSolution);
    EXPECT_EQ(p.rejected, kSlipAt1);
    EXPECT_NEAR(p.chosen_weight, std::pow(kRight, 4), 1e-12);
    EXPECT_NEAR(p.rejected_weight, kRight * std::pow(kWrong, 3), 1e-12);
  }
  EXPECT_EQ(r.generated_tokens, 4 * 20 + 2 * 12);
}

TEST(CritiqueRefine, RoundsZeroIsCriticFilteredMajority) {
  RuleCritic critic;
  RecordingBackend actor(tiny_model());
  actor.script = refine_script(actor, /*wrong_first=*/3);  // 3 wrong, 1 right: plain majority would be wrong
  auto values = critic_value(critic, "scope = \"trajectory\"\n");
  const auto records = refine_sampler(critic, "rounds = 0\n")->explore({{"q", kQuery, 5}}, actor, *values);
  EXPECT_EQ(actor.calls.size(), 1u);
  EXPECT_EQ(records[0].response, kRightSolution) << "the majority of the accepted answers";
  EXPECT_TRUE(refine_sampler(critic, "")->make_pairs(records[0], 0).empty());
}

TEST(CritiqueRefine, TheRandomControlRefinesTheSameResponsesAtADrawnStep) {
  RuleCritic critic;
  RecordingBackend actor(tiny_model());
  std::vector<std::string> prompts;
  actor.script = [&](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out;
    for (const GenerationRequest& r : requests) {
      GenerationResult result;
      if (r.n > 1) {
        for (int s = 0; s < r.n; ++s)
          result.samples.push_back(sample(s < 2 ? kSlipAt1 : kRightSolution, 20, -4.0, FinishReason::Eos));
      } else {
        prompts.push_back(actor.decode(r.prompt_ids));
        result.samples.push_back(sample("\\boxed{8}", 3, -1.0, FinishReason::Eos));
      }
      out.push_back(std::move(result));
    }
    return out;
  };
  auto values = critic_value(critic, "scope = \"trajectory\"\n");
  const Query q{"q", kQuery, 9};
  refine_sampler(critic, "rounds = 1\nrefine_at = \"random\"\n")->explore({q}, actor, *values);
  ASSERT_EQ(prompts.size(), 2u);
  const auto steps = critique::split_steps(kSlipAt1);
  for (std::size_t i = 0; i < 2; ++i) {
    std::mt19937_64 rng(derive(q.seed, {3, 1, i}));
    const auto at = static_cast<std::size_t>(rng() % steps.size());
    std::string prefix;
    for (std::size_t k = 0; k < at; ++k) prefix += steps[k] + "\n";
    EXPECT_EQ(prompts[i], actor.format_chat(kQuery) + prefix);
  }
}

// phi-decoding with scripted steps: the width pruning drops the step whose
// mean log-prob lies more than one standard deviation below the mean, and
// every rollout agreeing on one answer stops the search at T_min.
TEST(PhiDecoding, PrunesWidthAndDepthAndAnswersFromTheLargestCluster) {
  RecordingBackend actor(tiny_model());
  int step_calls = 0, rollout_requests = 0;
  actor.script = [&](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out;
    const bool steps = !requests.empty() && !requests[0].stop.empty();
    step_calls += steps;
    for (const GenerationRequest& r : requests) {
      GenerationResult result;
      for (int s = 0; s < r.n; ++s) {
        if (steps)  // candidate s of every beam: the last one is improbable
          result.samples.push_back(
              sample("s" + std::to_string(s), 4, s == r.n - 1 ? -20.0 : -0.4 - 0.01 * s, FinishReason::Stop));
        else
          ++rollout_requests, result.samples.push_back(sample("\\boxed{8}", 5, -1.0, FinishReason::Eos));
      }
      out.push_back(std::move(result));
    }
    return out;
  };
  auto values = value("foresight-logprob", "scope = \"rollout\"\n");
  auto s = sampler("phi-decoding",
                   "step_beam_size = 2\nnum_rollout = 4\nnum_foresight = 6\nleast_foresight = 3\n"
                   "positive_advantage = false\n");
  const auto records = s->explore({{"q", kQuery, 3}}, actor, *values);
  const ExplorationRecord& r = records[0];
  EXPECT_EQ(r.steps.size(), 3u) << "every rollout agrees: depth pruning stops at T_min";
  EXPECT_EQ(step_calls, 3);
  for (const StepRecord& step : r.steps) {
    EXPECT_EQ(step.candidates.size(), 6u) << "2 beams x 4 candidates, the 2 improbable ones pruned";
    for (const Candidate& c : step.candidates) EXPECT_NE(c.step, "s3");
  }
  EXPECT_EQ(rollout_requests, 3 * 6 + 2) << "one rollout per kept candidate, one completion per beam";
  EXPECT_THAT(r.response, HasSubstr("\\boxed{8}"));
  EXPECT_FALSE(s->make_pairs(r, 1).empty());
}

}  // namespace
}  // namespace genius::sampler_test

namespace genius::sampler_test {
namespace {

// The critic value estimator guides the foresight sampler: with scripted steps
// that slip or not, the beams it keeps are the critic's choice.
TEST(CriticValue, GuidesForesightTowardsTheStepsTheCriticTrusts) {
  RuleCritic critic;
  RecordingBackend actor(tiny_model());
  const std::vector<std::string> right = critique::split_steps(kRightSolution);
  actor.script = [&](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out;
    for (const GenerationRequest& r : requests) {
      const std::string response = actor.decode(r.prompt_ids).substr(actor.format_chat(kQuery).size());
      const std::size_t done = critique::split_steps(response).size();
      GenerationResult result;
      for (int s = 0; s < r.n; ++s) {
        if (r.stop.empty()) {  // a rollout: the right rest
          std::string rest;
          for (std::size_t k = done; k < right.size(); ++k) rest += (k > done ? "\n" : "") + right[k];
          result.samples.push_back(sample(rest, 6, -1.0, FinishReason::Eos));
        } else {  // candidate steps: the right one, then a slip of +1 in its result
          std::string step = right[done];
          if (s % 2 == 1 && done + 1 < right.size()) step[step.find('=') + 1] += 1;
          result.samples.push_back(sample(step, 4, -0.5, FinishReason::Stop));
        }
      }
      out.push_back(std::move(result));
    }
    return out;
  };
  auto values = critic_value(critic, "aggregate = \"product\"\n");
  auto s = sampler("foresight", "step_beam_size = 1\nnum_rollout = 2\nnum_foresight = 4\nselection = \"highest\"\n");
  const auto records = s->explore({{"q", kQuery, 2}}, actor, *values);
  EXPECT_EQ(records[0].response, kRightSolution);
  int judged = 0;
  for (const StepRecord& step : records[0].steps) {
    if (step.candidates.size() != 2 || step.candidates[0].step == step.candidates[1].step) continue;
    EXPECT_GT(step.candidates[0].score, step.candidates[1].score) << step.candidates[1].step;
    ++judged;
  }
  EXPECT_GE(judged, 2) << "steps with a slipped candidate";
}

}  // namespace
}  // namespace genius::sampler_test
