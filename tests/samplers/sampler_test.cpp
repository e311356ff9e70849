// The foresight sampler through the real plugin path: libraries found by
// core::PluginRegistry, configs validated by core::validate, a tiny model made
// by `genius init-model` and run by the torch-llama plugin. A recording
// decorator around the backend counts the generate calls and can replace the
// model by scripted samples (sampler_test_util.hpp). The other samplers are
// tested in best_of_n_test.cpp and self_consistency_test.cpp, the value
// estimators in tests/values/value_test.cpp; all of them in this executable.
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/helpers/pairs.hpp>
#include <genius/sampler.hpp>
#include <genius/value_estimator.hpp>

#include "plugins/checked_sampler.hpp"
#include "sampler_test_util.hpp"

namespace genius::sampler_test {
namespace {

const std::string kSmallForesight =
    "step_beam_size = 2\nnum_rollout = 4\nnum_foresight = 2\nmax_step_tokens = 8\nmax_rollout_tokens = 16\n";

// ---------------------------------------------------------------- foresight

TEST(Foresight, ManifestsAreRegisteredWithTheirKeys) {
  const core::PluginInfo* f = registry().find(PluginKind::Sampler, "foresight");
  ASSERT_NE(f, nullptr);
  for (const char* key : {"step_beam_size", "num_rollout", "num_foresight", "step_temperature", "rollout_temperature",
                          "selection_temperature", "top_p", "selection", "light", "light_threshold", "step_delimiter",
                          "max_step_tokens", "max_rollout_tokens", "answer_marker", "concurrent_queries", "rejected"})
    EXPECT_NE(f->manifest.find_key(key), nullptr) << key;
  EXPECT_NE(registry().find(PluginKind::Sampler, "best-of-n"), nullptr);
  EXPECT_NE(registry().find(PluginKind::Sampler, "self-consistency"), nullptr);
  EXPECT_NE(registry().find(PluginKind::ValueEstimator, "foresight-logprob"), nullptr);
  EXPECT_NE(registry().find(PluginKind::ValueEstimator, "sequence-logprob"), nullptr);
  EXPECT_NE(registry().find(PluginKind::ValueEstimator, "majority-vote"), nullptr);
  EXPECT_EQ(sampler("foresight")->queries_per_call(), 8u);
  EXPECT_EQ(sampler("foresight", "concurrent_queries = 3\n")->queries_per_call(), 3u);
}

// K=2, M=4, T=2, three queries in one explore call: one candidate-step call
// and one rollout call per step, then one final-completion call.
TEST(Foresight, BatchesEveryQueryIntoOneStepCallAndOneRolloutCallPerStep) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  auto values = value("foresight-logprob");
  const auto records = sampler("foresight", kSmallForesight)->explore(kQueries, backend, *values);
  constexpr int K = 2, M = 4, T = 2;
  ASSERT_EQ(records.size(), 3u);
  ASSERT_EQ(backend.calls.size(), static_cast<std::size_t>(2 * T + 1));
  for (int t = 0; t < T; ++t) {
    const auto& steps = backend.calls[static_cast<std::size_t>(2 * t)];
    ASSERT_EQ(steps.size(), static_cast<std::size_t>(3 * K)) << "one request per beam of every query";
    for (std::size_t r = 0; r < steps.size(); ++r) {
      EXPECT_EQ(steps[r].n, M);
      EXPECT_EQ(steps[r].stop, std::vector<std::string>{"\n"});
      EXPECT_EQ(steps[r].max_new_tokens, 8);
      EXPECT_DOUBLE_EQ(steps[r].temperature, 0.6);
      EXPECT_EQ(steps[r].seed, derive(kQueries[r / K].seed, {1, static_cast<std::uint64_t>(t + 1), r % K}));
    }
    const auto& rollouts = backend.calls[static_cast<std::size_t>(2 * t + 1)];
    std::size_t open = 0;
    for (const auto& rec : records)
      for (const auto& c : rec.steps[static_cast<std::size_t>(t)].candidates) open += !c.complete;
    EXPECT_EQ(rollouts.size(), open) << "one rollout per candidate that is not complete";
    EXPECT_EQ(open, static_cast<std::size_t>(3 * K * M));
    for (const auto& r : rollouts) {
      EXPECT_EQ(r.n, 1);
      EXPECT_TRUE(r.stop.empty());
      EXPECT_DOUBLE_EQ(r.temperature, 1.0);
      EXPECT_EQ(r.max_new_tokens, 16);
    }
  }
  EXPECT_EQ(backend.calls.back().size(), static_cast<std::size_t>(3 * K)) << "one final completion per beam";

  std::int64_t tokens = 0;
  for (std::size_t q = 0; q < records.size(); ++q) {
    const ExplorationRecord& rec = records[q];
    tokens += rec.generated_tokens;
    EXPECT_EQ(rec.query.id, kQueries[q].id);
    ASSERT_EQ(rec.steps.size(), static_cast<std::size_t>(T));
    // The first request of the query encodes the whole chat prompt.
    EXPECT_EQ(backend.calls[0][q * K].prompt_ids, backend.encode(backend.format_chat(kQueries[q].prompt)));
    for (int t = 0; t < T; ++t) {
      const StepRecord& s = rec.steps[static_cast<std::size_t>(t)];
      EXPECT_EQ(s.step, t + 1);
      ASSERT_EQ(s.beams.size(), static_cast<std::size_t>(K));
      ASSERT_EQ(s.candidates.size(), static_cast<std::size_t>(K * M));
      EXPECT_FALSE(s.foresight_skipped);
      for (std::size_t i = 0; i < s.candidates.size(); ++i) {
        const Candidate& c = s.candidates[i];
        EXPECT_EQ(c.parent_beam, static_cast<int>(i) / M);
        EXPECT_GT(c.step_tokens, 0);
        EXPECT_LE(c.step_tokens, 8);
        EXPECT_GT(c.rollout_tokens, 0);
        EXPECT_EQ(c.trajectory, s.beams[static_cast<std::size_t>(c.parent_beam)] + c.step + "\n" + c.rollout);
        EXPECT_DOUBLE_EQ(c.score, c.rollout_logprob / c.rollout_tokens) << "the paper's score";
        EXPECT_DOUBLE_EQ(c.advantage, c.score - s.beam_values[static_cast<std::size_t>(c.parent_beam)]);
      }
      // The seeded draw of docs/samplers.md, recomputed from the recorded scores.
      EXPECT_EQ(s.selected,
                expected_draw(scores_of(s), K, 0.1, derive(kQueries[q].seed, {3, static_cast<std::uint64_t>(t + 1)})));
    }
    // Step 2's beams are the selected candidates of step 1, in order, with q = their scores.
    const StepRecord &s1 = rec.steps[0], &s2 = rec.steps[1];
    EXPECT_EQ(s1.beams, std::vector<std::string>(K, ""));
    EXPECT_EQ(s1.beam_values, std::vector<double>(K, 0.0));
    for (int k = 0; k < K; ++k) {
      const Candidate& c = s1.candidates[static_cast<std::size_t>(s1.selected[static_cast<std::size_t>(k)])];
      EXPECT_EQ(s2.beams[static_cast<std::size_t>(k)], c.step + "\n");
      EXPECT_DOUBLE_EQ(s2.beam_values[static_cast<std::size_t>(k)], c.score);
      for (int j = 0; j < M; ++j) {
        const Candidate& d = s2.candidates[static_cast<std::size_t>(k * M + j)];
        EXPECT_DOUBLE_EQ(d.beam_logprob, c.step_logprob);
        EXPECT_EQ(d.beam_tokens, c.step_tokens);
      }
    }
    // The response extends one of the final beams.
    bool extends = false;
    for (int k = 0; k < K; ++k) {
      const Candidate& c = s2.candidates[static_cast<std::size_t>(s2.selected[static_cast<std::size_t>(k)])];
      extends =
          extends || rec.response.rfind(s2.beams[static_cast<std::size_t>(c.parent_beam)] + c.step + "\n", 0) == 0;
    }
    EXPECT_TRUE(extends) << rec.response;
  }
  EXPECT_EQ(tokens, backend.generated_tokens()) << "every generated token is counted once";
}

TEST(Foresight, RollsOutFromTheWholeTextReEncoded) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  auto values = value("foresight-logprob");
  const auto records = sampler("foresight", kSmallForesight)->explore({kQueries[0]}, backend, *values);
  const std::string chat = backend.format_chat(kQueries[0].prompt);
  const StepRecord& s = records[0].steps[0];
  const auto& rollouts = backend.calls[1];
  ASSERT_EQ(rollouts.size(), s.candidates.size());
  for (std::size_t i = 0; i < rollouts.size(); ++i) {
    EXPECT_EQ(rollouts[i].prompt_ids, backend.encode(chat + s.candidates[i].step + "\n"));
    EXPECT_EQ(rollouts[i].seed, derive(kQueries[0].seed, {2, 1, i}));
  }
}

TEST(Foresight, AQueryAloneAndInsideABatchGivesTheSameRecord) {
  auto values = value("foresight-logprob");
  auto s = sampler("foresight", kSmallForesight);
  RecordingBackend batch(tiny_model()), alone(tiny_model());
  const auto together = s->explore(kQueries, batch, *values);
  const auto single = s->explore({kQueries[1]}, alone, *values);
  // Texts, token counts and selections are identical; the float32 log-probs
  // differ by ~1e-7 because the batch shape changes the rounding of the matmuls.
  expect_same_record(single[0], together[1], 1e-5);
}

TEST(Foresight, AFixedSeedGivesTheSameRecordTwiceAndAnotherSeedAnother) {
  auto values = value("foresight-logprob");
  auto s = sampler("foresight", kSmallForesight);
  RecordingBackend a(tiny_model()), b(tiny_model()), c(tiny_model());
  const auto first = s->explore(kQueries, a, *values);
  const auto second = s->explore(kQueries, b, *values);
  // The second run reuses keys and values the first left in the shared
  // backend's prefix cache, computed in other batches: texts and choices are
  // identical, log-probs agree to float32 rounding.
  for (std::size_t q = 0; q < first.size(); ++q) expect_same_record(first[q], second[q], 1e-6);
  std::vector<Query> reseeded = kQueries;
  reseeded[0].seed += 1;
  const auto other = s->explore(reseeded, c, *values);
  EXPECT_NE(other[0].steps[0].candidates[0].trajectory + other[0].steps[0].candidates[1].trajectory,
            first[0].steps[0].candidates[0].trajectory + first[0].steps[0].candidates[1].trajectory);
}

TEST(Foresight, HighestSelectionKeepsTheTopKScores) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  auto values = value("foresight-logprob");
  const auto records =
      sampler("foresight", kSmallForesight + "selection = \"highest\"\n")->explore(kQueries, backend, *values);
  for (const auto& rec : records)
    for (const auto& s : rec.steps) {
      std::vector<int> order(s.candidates.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
        return s.candidates[static_cast<std::size_t>(x)].score > s.candidates[static_cast<std::size_t>(y)].score;
      });
      EXPECT_EQ(s.selected, std::vector<int>(order.begin(), order.begin() + 2));
    }
}

TEST(Foresight, AdvantageSelectionDrawsFromTheAdvantages) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  auto values = value("foresight-logprob");
  const auto records =
      sampler("foresight", kSmallForesight + "selection = \"advantage\"\n")->explore(kQueries, backend, *values);
  for (std::size_t q = 0; q < records.size(); ++q)
    for (const auto& s : records[q].steps) {
      std::vector<double> a;
      for (const auto& c : s.candidates) a.push_back(c.advantage);
      EXPECT_EQ(s.selected,
                expected_draw(a, 2, 0.1, derive(kQueries[q].seed, {3, static_cast<std::uint64_t>(s.step)})));
    }
}

TEST(Foresight, LightModeSkipsTheRolloutsOfConfidentSteps) {
  auto values = value("foresight-logprob");
  {  // every candidate's normalised log-prob exceeds -1e9: no rollouts at all
    RecordingBackend backend(tiny_model());
    backend.ignore_eos = true;
    auto s = sampler("foresight", kSmallForesight + "light = true\nlight_threshold = -1e9\n");
    const auto records = s->explore(kQueries, backend, *values);
    ASSERT_EQ(backend.calls.size(), 3u) << "two candidate-step calls and the final completions";
    for (const auto& call : backend.calls) EXPECT_EQ(call.size(), 6u);
    for (const auto& rec : records) {
      for (const auto& step : rec.steps) {
        EXPECT_TRUE(step.foresight_skipped);
        EXPECT_EQ(step.candidates.size(), 8u);
        for (const auto& c : step.candidates) {
          EXPECT_EQ(c.rollout_tokens, 0);
          EXPECT_DOUBLE_EQ(c.score, c.step_logprob / c.step_tokens) << "scored on the step alone";
          EXPECT_EQ(c.trajectory, step.beams[static_cast<std::size_t>(c.parent_beam)] + c.step + "\n");
        }
      }
      EXPECT_TRUE(s->make_pairs(rec, 1).empty()) << "skipped steps hold partial responses: no pairs";
    }
  }
  {  // no candidate exceeds 0: the rollouts run
    RecordingBackend backend(tiny_model());
    backend.ignore_eos = true;
    sampler("foresight", kSmallForesight + "light = true\nlight_threshold = 0.0\n")
        ->explore(kQueries, backend, *values);
    EXPECT_EQ(backend.calls.size(), 5u);
  }
}

TEST(Foresight, PairsFollowTheStepResampling) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  auto values = value("foresight-logprob");
  auto s = sampler("foresight", kSmallForesight);
  const auto records = s->explore(kQueries, backend, *values);
  for (const auto& rec : records) {
    const auto pairs = s->make_pairs(rec, 5);
    ASSERT_EQ(pairs.size(), rec.steps.size()) << "one pair per step pool";
    for (std::size_t t = 0; t < pairs.size(); ++t) {
      const PreferencePair& p = pairs[t];
      const auto& pool = rec.steps[t].candidates;
      const auto best = static_cast<std::size_t>(
          std::max_element(pool.begin(), pool.end(),
                           [](const Candidate& x, const Candidate& y) { return x.score < y.score; }) -
          pool.begin());
      EXPECT_EQ(p.query_id, rec.query.id);
      EXPECT_EQ(p.prompt, rec.query.prompt);
      EXPECT_EQ(p.step, static_cast<int>(t) + 1);
      EXPECT_EQ(p.chosen, pool[best].trajectory);
      EXPECT_DOUBLE_EQ(p.chosen_weight, pool[best].advantage);
      bool member = false;
      for (std::size_t i = 0; i < pool.size(); ++i)
        member = member || (i != best && pool[i].trajectory == p.rejected && pool[i].advantage == p.rejected_weight);
      EXPECT_TRUE(member) << "rejected is another member of the pool";
      double mean = 0;
      for (const auto& c : pool) mean += c.advantage;
      EXPECT_NEAR(p.chosen_average_weight, mean / static_cast<double>(pool.size()), 1e-12);
    }
    EXPECT_EQ(s->make_pairs(rec, 5).front().rejected, pairs.front().rejected) << "seeded";
  }
}

// Scripted samples: step requests (stop = "\n") and rollouts / completions.
RecordingBackend::Script script(std::function<GeneratedSample(std::size_t call, std::size_t request, int j)> step) {
  return [step](std::size_t call, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out(requests.size());
    for (std::size_t r = 0; r < requests.size(); ++r)
      for (int j = 0; j < requests[r].n; ++j)
        out[r].samples.push_back(requests[r].stop.empty() ? sample("r", 4, -20.0, FinishReason::Eos)
                                                          : step(call, r, j));
    return out;
  };
}

TEST(Foresight, AnAnswerMarkerOrEosCompletesATrajectoryAndEndsTheSearchEarly) {
  RecordingBackend backend(tiny_model());
  backend.script = script([](std::size_t, std::size_t r, int j) {
    if (r == 0 && j == 0) return sample("so \\boxed{7}", 3, -0.3, FinishReason::Stop);  // score -0.1
    if (r == 1 && j == 0) return sample("done", 2, -0.1, FinishReason::Eos);            // score -0.05
    return sample("b", 2, -10.0, FinishReason::Stop);
  });
  auto values = value("foresight-logprob");
  const auto records =
      sampler("foresight", kSmallForesight + "selection = \"highest\"\n")->explore({kQueries[0]}, backend, *values);
  ASSERT_EQ(backend.calls.size(), 2u) << "steps, rollouts; every beam complete: no step 2, no final completion";
  EXPECT_EQ(backend.calls[1].size(), 6u) << "complete candidates are not rolled out";
  const ExplorationRecord& rec = records[0];
  ASSERT_EQ(rec.steps.size(), 1u);
  const auto& pool = rec.steps[0].candidates;
  EXPECT_TRUE(pool[0].complete);
  EXPECT_TRUE(pool[4].complete);
  EXPECT_FALSE(pool[1].complete);
  EXPECT_EQ(pool[0].trajectory, "so \\boxed{7}") << "a complete trajectory is beam + step";
  EXPECT_EQ(pool[0].rollout_tokens, 0);
  EXPECT_DOUBLE_EQ(pool[0].score, -0.1) << "no rollout: scored on the step";
  EXPECT_EQ(rec.steps[0].selected, (std::vector<int>{4, 0}));
  EXPECT_EQ(rec.response, "done") << "highest final value";
  EXPECT_EQ(rec.generated_tokens, backend.generated_tokens());
}

TEST(Foresight, ACompleteBeamKeepsItsSlotWhileTheOthersGoOn) {
  RecordingBackend backend(tiny_model());
  backend.script = script([](std::size_t call, std::size_t r, int j) {
    if (call == 0 && r == 0 && j == 0) return sample("\\boxed{7}", 1, -0.1, FinishReason::Stop);
    return sample("b", 2, -10.0, FinishReason::Stop);
  });
  auto values = value("foresight-logprob");
  const auto records =
      sampler("foresight", kSmallForesight + "selection = \"highest\"\n")->explore({kQueries[0]}, backend, *values);
  // step 1: 2 step requests, 7 rollouts; step 2: 1 request (n=4), 4 rollouts; 1 final completion.
  ASSERT_EQ(backend.calls.size(), 5u);
  EXPECT_EQ(backend.calls[1].size(), 7u);
  ASSERT_EQ(backend.calls[2].size(), 1u);
  EXPECT_EQ(backend.calls[2][0].n, 4);
  EXPECT_EQ(backend.calls[3].size(), 4u);
  EXPECT_EQ(backend.calls[4].size(), 1u);
  const ExplorationRecord& rec = records[0];
  ASSERT_EQ(rec.steps.size(), 2u);
  EXPECT_EQ(rec.steps[0].selected, (std::vector<int>{0, 1}));
  const StepRecord& s2 = rec.steps[1];
  EXPECT_EQ(s2.beams, (std::vector<std::string>{"\\boxed{7}", "b\n"}));
  EXPECT_EQ(s2.beam_values, (std::vector<double>{-0.1, -5.0}));
  ASSERT_EQ(s2.candidates.size(), 4u) << "only the unfinished beam expands";
  for (const auto& c : s2.candidates) {
    EXPECT_EQ(c.parent_beam, 1);
    EXPECT_DOUBLE_EQ(c.beam_logprob, -10.0);
    EXPECT_EQ(c.beam_tokens, 2);
    EXPECT_EQ(c.trajectory, "b\nb\nr");
    EXPECT_DOUBLE_EQ(c.advantage, 0.0);
  }
  EXPECT_EQ(s2.selected.size(), 1u);
  EXPECT_EQ(rec.response, "\\boxed{7}");
}

TEST(Foresight, RefusesABackendThatReturnsTheWrongNumberOfSamples) {
  RecordingBackend backend(tiny_model());
  backend.script = [](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out(requests.size());
    for (auto& r : out) r.samples.push_back(sample("x", 1, -1.0, FinishReason::Stop));
    return out;
  };
  auto values = value("foresight-logprob");
  try {
    core::explore_checked(*sampler("foresight", kSmallForesight), {kQueries[0]}, backend, *values);
    FAIL() << "expected a PluginError";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "foresight");
    EXPECT_THAT(e.what(), HasSubstr("returned 1 samples"));
  }
}

class NanValue final : public ValueEstimator {
 public:
  void score(const Query&, std::vector<Candidate>& cs, const std::vector<double>&, ModelBackend&) override {
    for (auto& c : cs) c.score = std::nan("");
  }
};

TEST(Foresight, RefusesANonFiniteScore) {
  RecordingBackend backend(tiny_model());
  backend.ignore_eos = true;
  NanValue nan;
  EXPECT_THROW(core::explore_checked(*sampler("foresight", kSmallForesight), {kQueries[0]}, backend, nan), PluginError);
}

TEST(Foresight, BadConfigIsRefusedByTheManifest) {
  auto refused = [](const std::string& keys, const std::string& what) {
    try {
      config("sampler", "foresight", keys);
      ADD_FAILURE() << "accepted: " << keys;
    } catch (const core::ConfigValidationError& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  refused("step_beam_size = 0\n", "step_beam_size");
  refused("num_rollout = 0\n", "num_rollout");
  refused("selection_temperature = 0.0\n", "selection_temperature");
  refused("top_p = 0.0\n", "top_p");
  refused("selection = \"best\"\n", "selection");
  refused("rejected = \"worst\"\n", "rejected");
  refused("rejected_copies = \"drop\"\n", "rejected_copies");
  refused("step_delimiter = \"\"\n", "step_delimiter");  // the manifest says: not empty
  EXPECT_THROW(sampler("foresight", "rejected = \"distinct\"\nrejected_copies = \"keep\"\n"), PluginError);
}

// Hand-made pools for the rejected rules of genius::step_pairs, through the
// foresight plugin's make_pairs (no model needed).
ExplorationRecord record_of_pools(const std::vector<std::vector<std::pair<std::string, double>>>& pools) {
  ExplorationRecord rec;
  rec.query = kQueries[0];
  for (const auto& pool : pools) {
    StepRecord step;
    step.step = static_cast<int>(rec.steps.size()) + 1;
    for (const auto& [text, score] : pool) {
      Candidate c;
      c.trajectory = text;
      c.score = score;
      c.advantage = score - 0.5;
      step.candidates.push_back(c);
    }
    rec.steps.push_back(step);
  }
  return rec;
}

TEST(Foresight, RejectedRulesSkipCopiesOfTheChosenText) {
  // Step 1: the best text "a" appears three times; "b" (0.6), "c" (0.2) and
  // "d" (0.2, later) differ. Step 2: every member repeats the chosen text.
  const ExplorationRecord rec = record_of_pools(
      {{{"a", 0.9}, {"a", 0.8}, {"b", 0.6}, {"a", 0.7}, {"c", 0.2}, {"d", 0.2}}, {{"x", 0.3}, {"x", 0.1}}});
  auto pairs_of = [&](const std::string& keys, std::uint64_t seed) {
    return sampler("foresight", keys + "selection_temperature = 1.0\n")->make_pairs(rec, seed);
  };
  std::set<std::string> kept_drawn, skipped_drawn;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    for (const std::string rule : {"random", "softmax"}) {
      const auto kept = pairs_of("rejected = \"" + rule + "\"\nrejected_copies = \"keep\"\n", seed);
      ASSERT_EQ(kept.size(), 2u) << rule << " with copies kept uses every pool of 2 or more";
      EXPECT_EQ(kept[1].chosen, kept[1].rejected);
      if (rule == "random") kept_drawn.insert(kept[0].rejected);
      const auto skipped = pairs_of("rejected = \"" + rule + "\"\n", seed);
      ASSERT_EQ(skipped.size(), 1u) << rule << ": a pool of copies gives no pair";
      EXPECT_EQ(skipped[0].chosen, "a");
      EXPECT_NE(skipped[0].rejected, "a") << rule;
      if (rule == "random") skipped_drawn.insert(skipped[0].rejected);
      EXPECT_EQ(pairs_of("rejected = \"" + rule + "\"\n", seed)[0].rejected, skipped[0].rejected) << "seeded";
    }
    EXPECT_EQ(pairs_of("rejected = \"distinct\"\n", seed)[0].rejected,
              pairs_of("rejected = \"random\"\n", seed)[0].rejected)
        << "distinct is random with copies skipped";
    const auto lowest = pairs_of("rejected = \"lowest\"\n", seed);
    ASSERT_EQ(lowest.size(), 1u);
    EXPECT_EQ(lowest[0].rejected, "d") << "the lowest score, the last on ties";
    EXPECT_DOUBLE_EQ(lowest[0].rejected_weight, 0.2 - 0.5);
    EXPECT_DOUBLE_EQ(lowest[0].chosen_weight, 0.9 - 0.5);
    EXPECT_NEAR(lowest[0].chosen_average_weight, (0.9 + 0.8 + 0.6 + 0.7 + 0.2 + 0.2) / 6 - 0.5, 1e-12);
  }
  EXPECT_EQ(kept_drawn, (std::set<std::string>{"a", "b", "c", "d"})) << "random may repeat the chosen text";
  EXPECT_EQ(skipped_drawn, (std::set<std::string>{"b", "c", "d"})) << "skipping copies draws among all the others";
  // The default is the paper's rule, softmax, with copies skipped.
  for (std::uint64_t seed = 0; seed < 8; ++seed)
    EXPECT_EQ(sampler("foresight", "selection_temperature = 1.0\n")->make_pairs(rec, seed)[0].rejected,
              pairs_of("rejected = \"softmax\"\n", seed)[0].rejected);
}

TEST(Foresight, SoftmaxRejectedDrawFollowsTheScoresAtTheSelectionTemperature) {
  // Pool scores 0.9 (chosen), 0.5, 0.3, -0.4 at tau 0.5: the rejected side
  // is drawn with probability exp(f / tau) / sum over the three others.
  const ExplorationRecord rec = record_of_pools({{{"w", 0.9}, {"p", 0.5}, {"q", 0.3}, {"r", -0.4}}});
  const auto s = sampler("foresight", "selection_temperature = 0.5\n");
  const std::vector<std::pair<std::string, double>> others = {{"p", 0.5}, {"q", 0.3}, {"r", -0.4}};
  double total = 0;
  for (const auto& [text, f] : others) total += std::exp(f / 0.5);
  std::map<std::string, int> counts;
  const int draws = 6000;
  for (int seed = 0; seed < draws; ++seed) {
    const auto pairs = s->make_pairs(rec, static_cast<std::uint64_t>(seed));
    ASSERT_EQ(pairs.size(), 1u);
    ++counts[pairs[0].rejected];
    // The documented procedure, replayed: u = top 53 bits of one mt19937_64
    // draw times the weight sum, the first member whose running sum exceeds u.
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total * std::exp(-0.5 / 0.5);
    double running = 0;
    std::string expected = "r";
    for (const auto& [text, f] : others) {
      running += std::exp((f - 0.5) / 0.5);
      if (u < running) {
        expected = text;
        break;
      }
    }
    EXPECT_EQ(pairs[0].rejected, expected) << "seed " << seed;
  }
  for (const auto& [text, f] : others) {
    const double p = std::exp(f / 0.5) / total;
    const double sd = std::sqrt(p * (1 - p) / draws);
    EXPECT_NEAR(counts[text] / double(draws), p, 4 * sd) << text;
  }
}

TEST(StepPairs, SoftmaxAtZeroTemperatureTakesTheBestOfTheOthers) {
  const ExplorationRecord rec = record_of_pools({{{"w", 0.9}, {"w", 0.8}, {"p", 0.5}, {"q", 0.7}, {"r", -0.4}}});
  for (double tau : {0.0, -1.0, std::nan("")})
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
      const auto pairs = genius::step_pairs(rec, seed, genius::PairRule{genius::RejectedRule::Softmax, tau, true});
      ASSERT_EQ(pairs.size(), 1u);
      EXPECT_EQ(pairs[0].rejected, "q") << "tau " << tau;
    }
}

// ------------------------------------------------------------ measurement
// Cost of the reference settings (K=2, M=4, T=4, default token limits) on the
// tiny random model; prints a table, asserts nothing. Run with
//   sampler_test --gtest_also_run_disabled_tests --gtest_filter='*Measure*'
TEST(Foresight, DISABLED_MeasureCostOfTheReferenceSettings) {
  auto values = value("foresight-logprob");
  auto s = sampler("foresight");
  std::vector<Query> queries;
  for (int i = 0; i < 8; ++i) queries.push_back({"m" + std::to_string(i), "Q:" + std::to_string(i) + "+3-1", 100u + i});
  for (int round = 0; round < 1; ++round) {
    RecordingBackend backend(tiny_model());
    const auto start = std::chrono::steady_clock::now();
    const auto records = s->explore(queries, backend, *values);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::int64_t tokens = 0, steps = 0;
    for (const auto& r : records) {
      tokens += r.generated_tokens;
      steps += static_cast<std::int64_t>(r.steps.size());
    }
    std::cout << "round " << round << ": queries " << queries.size() << "  generate calls " << backend.calls.size()
              << "  steps/query " << static_cast<double>(steps) / 8 << "  tokens/query "
              << static_cast<double>(tokens) / 8 << "  wall " << wall << " s  in generate "
              << 100 * backend.generate_seconds / wall << " %  tokens/s " << static_cast<double>(tokens) / wall << "\n";
    for (std::size_t c = 0; c < backend.calls.size(); ++c) {
      std::int64_t rows = 0, generated = 0, longest = 0, prompt = 0;
      for (const auto& r : backend.calls[c]) {
        rows += r.n;
        prompt = std::max<std::int64_t>(prompt, static_cast<std::int64_t>(r.prompt_ids.size()));
      }
      for (const auto& r : backend.results[c])
        for (const auto& x : r.samples) {
          generated += x.num_tokens();
          longest = std::max<std::int64_t>(longest, x.num_tokens());
        }
      std::cout << "  call " << c << ": requests " << backend.calls[c].size() << "  rows " << rows << "  tokens "
                << generated << "  longest " << longest << "  longest prompt " << prompt << "  "
                << backend.call_seconds[c] << " s\n";
    }
  }
  // The same queries explored one explore() call each (no batching across queries).
  RecordingBackend backend(tiny_model());
  const auto start = std::chrono::steady_clock::now();
  for (const Query& q : queries) s->explore({q}, backend, *values);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "one query per call: generate calls " << backend.calls.size() << "  wall " << wall << " s  in generate "
            << 100 * backend.generate_seconds / wall << " %\n";
}

}  // namespace
}  // namespace genius::sampler_test
