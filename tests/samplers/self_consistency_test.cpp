// The self-consistency sampler through the real plugin path, with scripted
// samples (sampler_test_util.hpp; part of the sampler_test executable).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/sampler.hpp>

#include "sampler_test_util.hpp"

namespace genius::sampler_test {
namespace {

// ---------------------------------------------------------- self-consistency

TEST(SelfConsistency, PrefersAMajorityAnswerOverADifferentOne) {
  RecordingBackend backend(tiny_model());
  backend.script = [](std::size_t, const std::vector<GenerationRequest>& requests) {
    std::vector<GenerationResult> out(requests.size());
    for (auto& r : out)
      r.samples = {sample("a \\boxed{3}", 2, -4.0, FinishReason::Eos),    // score -2
                   sample("b \\boxed{5}", 2, -1.0, FinishReason::Eos),    // -0.5
                   sample("c \\boxed{3.0}", 2, -2.0, FinishReason::Eos),  // -1, same answer as a
                   sample("d no answer", 2, -0.2, FinishReason::Eos),     // -0.1
                   sample("e \\boxed{7}", 2, -3.0, FinishReason::Eos)};   // -1.5
    return out;
  };
  auto values = value("sequence-logprob");
  auto s = sampler("self-consistency", "n = 5\n");
  const auto records = s->explore({kQueries[0], kQueries[1]}, backend, *values);
  ASSERT_EQ(backend.calls.size(), 1u);
  for (const auto& rec : records) {
    const auto& pool = rec.steps[0].candidates;
    EXPECT_EQ(pool[0].answer, "3");
    EXPECT_EQ(pool[2].answer, "3.0");
    EXPECT_EQ(pool[3].answer, "");
    EXPECT_EQ(rec.response, "c \\boxed{3.0}") << "the majority answer's highest score";
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      const auto pairs = s->make_pairs(rec, seed);
      ASSERT_EQ(pairs.size(), 1u);
      EXPECT_EQ(pairs[0].chosen, "c \\boxed{3.0}");
      EXPECT_THAT(pairs[0].rejected, ::testing::AnyOf("b \\boxed{5}", "d no answer", "e \\boxed{7}"));
    }
  }
  // No pair when every answer agrees, or when there is no answer at all.
  ExplorationRecord agree = records[0];
  for (auto& c : agree.steps[0].candidates) c.answer = "3";
  EXPECT_TRUE(s->make_pairs(agree, 1).empty());
  ExplorationRecord none = records[0];
  for (auto& c : none.steps[0].candidates) c.answer = "";
  EXPECT_TRUE(s->make_pairs(none, 1).empty());
}

}  // namespace
}  // namespace genius::sampler_test
