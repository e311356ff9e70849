// The optimizer's pure pieces (core/src/train/optimizer.cpp): the learning-rate
// schedules against transformers' formulas, the pinned epoch order, and
// gradient clipping against hand-computed norms. No model needed.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/optimizer.hpp"

namespace genius::core {
namespace {

TEST(Trainer, ScheduleWarmsUpThenDecaysAsTransformersDoes) {
  TrainOptions o;
  o.learning_rate = 1.0;
  o.warmup_ratio = 0.2;  // of 10 steps: ceil(2.0) = 2 warmup steps
  EXPECT_EQ(warmup_steps(o, 10), 2);
  EXPECT_EQ(warmup_steps(o, 11), 3);  // ceil(2.2)
  o.lr_scheduler = LrScheduler::Linear;
  const std::vector<double> linear = {0.0, 0.5, 1.0, 7.0 / 8, 6.0 / 8, 5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8};
  for (int s = 0; s < 10; ++s) EXPECT_DOUBLE_EQ(learning_rate_at(o, s, 10), linear[s]) << "step " << s;
  o.lr_scheduler = LrScheduler::Cosine;
  for (int s = 0; s < 10; ++s) {
    const double want = s < 2 ? s / 2.0 : 0.5 * (1 + std::cos(std::acos(-1.0) * (s - 2) / 8.0));
    EXPECT_NEAR(learning_rate_at(o, s, 10), want, 1e-15) << "step " << s;
  }
  EXPECT_NEAR(learning_rate_at(o, 6, 10), 0.5, 1e-15);  // halfway through the decay
  o.lr_scheduler = LrScheduler::Constant;
  for (int s = 0; s < 10; ++s) EXPECT_DOUBLE_EQ(learning_rate_at(o, s, 10), s < 2 ? s / 2.0 : 1.0);
  o.warmup_ratio = 0;
  o.lr_scheduler = LrScheduler::Linear;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0, 4), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 3, 4), 0.25);
}

TEST(Trainer, EpochOrderIsASeededPermutation) {
  const auto a = epoch_order(50, 7, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(epoch_order(50, 7, 0), a);
  EXPECT_NE(epoch_order(50, 7, 1), a);
  EXPECT_NE(epoch_order(50, 8, 0), a);
  // Pinned: a run's data order must not change with the standard library or a refactoring.
  EXPECT_EQ(epoch_order(8, 7, 0), (std::vector<std::size_t>{0, 2, 3, 5, 6, 7, 4, 1}));
  EXPECT_EQ(epoch_order(8, 7, 1), (std::vector<std::size_t>{6, 3, 2, 4, 0, 7, 1, 5}));
  EXPECT_TRUE(epoch_order(0, 1, 0).empty());
}

TEST(Trainer, ClipGradNormCapsTheGlobalNormAndReportsItBefore) {
  std::vector<at::Tensor> params = {torch::zeros({2}, torch::requires_grad()),
                                    torch::zeros({1}, torch::requires_grad()),
                                    torch::zeros({3}, torch::requires_grad())};  // no gradient: skipped
  params[0].mutable_grad() = torch::tensor({3.0f, 0.0f});
  params[1].mutable_grad() = torch::tensor({4.0f});
  EXPECT_NEAR(clip_grad_norm(params, 0.0), 5.0, 1e-6);  // 0 = only measure
  EXPECT_NEAR(params[0].grad()[0].item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(clip_grad_norm(params, 10.0), 5.0, 1e-6);  // below the cap: untouched
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 4.0, 1e-6);
  EXPECT_NEAR(clip_grad_norm(params, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(params[0].grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 0.8, 1e-6);
  EXPECT_LE(clip_grad_norm(params, 0.0), 1.0);
}

}  // namespace
}  // namespace genius::core
