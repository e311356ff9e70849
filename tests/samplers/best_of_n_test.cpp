// The best-of-n sampler through the real plugin path, on the tiny model of
// sampler_test_util.hpp (part of the sampler_test executable).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/sampler.hpp>

#include "sampler_test_util.hpp"

namespace genius::sampler_test {
namespace {

// --------------------------------------------------------------- best-of-n

TEST(BestOfN, SamplesNResponsesInOneCallAndPairsHighestWithLowest) {
  RecordingBackend backend(tiny_model());
  auto values = value("sequence-logprob");
  auto s = sampler("best-of-n", "n = 4\nmax_tokens = 16\n");
  const auto records = s->explore({kQueries[0], kQueries[1]}, backend, *values);
  ASSERT_EQ(backend.calls.size(), 1u);
  ASSERT_EQ(backend.calls[0].size(), 2u);
  EXPECT_EQ(backend.calls[0][0].n, 4);
  EXPECT_DOUBLE_EQ(backend.calls[0][0].temperature, 0.6);
  EXPECT_EQ(backend.calls[0][0].seed, derive(kQueries[0].seed, {1}));
  for (const auto& rec : records) {
    ASSERT_EQ(rec.steps.size(), 1u);
    const auto& pool = rec.steps[0].candidates;
    ASSERT_EQ(pool.size(), 4u);
    std::size_t hi = 0, lo = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      EXPECT_TRUE(pool[i].complete);
      EXPECT_EQ(pool[i].trajectory, pool[i].step);
      EXPECT_EQ(pool[i].rollout_tokens, 0);
      EXPECT_DOUBLE_EQ(pool[i].score, pool[i].step_logprob / pool[i].step_tokens);
      EXPECT_DOUBLE_EQ(pool[i].advantage, pool[i].score);
      if (pool[i].score > pool[hi].score) hi = i;
      if (pool[i].score < pool[lo].score) lo = i;
    }
    EXPECT_EQ(rec.steps[0].selected, std::vector<int>{static_cast<int>(hi)});
    EXPECT_EQ(rec.response, pool[hi].trajectory);
    const auto pairs = s->make_pairs(rec, 3);
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(pairs[0].chosen, pool[hi].trajectory);
    EXPECT_EQ(pairs[0].rejected, pool[lo].trajectory);
    EXPECT_DOUBLE_EQ(pairs[0].chosen_weight, pool[hi].score);
    EXPECT_DOUBLE_EQ(pairs[0].rejected_weight, pool[lo].score);
  }
  auto random = sampler("best-of-n", "n = 4\nmax_tokens = 16\nrejected = \"random\"\n");
  const auto& pool = records[0].steps[0].candidates;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const auto pairs = random->make_pairs(records[0], seed);
    ASSERT_EQ(pairs.size(), 1u);
    const auto chosen = static_cast<std::size_t>(records[0].steps[0].selected[0]);
    EXPECT_EQ(pairs[0].chosen, pool[chosen].trajectory);
    bool member = false;
    for (std::size_t i = 0; i < pool.size(); ++i)
      member = member || (i != chosen && pool[i].trajectory == pairs[0].rejected);
    EXPECT_TRUE(member);
  }
}

}  // namespace
}  // namespace genius::sampler_test
