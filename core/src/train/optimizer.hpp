// The optimizer's parts shared by every training in Genius (train/optimizer_loop.hpp):
// the [train] options, transformers' learning-rate schedules, the seeded epoch
// order, gradient clipping and AdamW with decay on matrices only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include <genius/types.hpp>

#include <genius/config.hpp>

namespace torch::optim {
class AdamW;
}

namespace genius::core {

enum class LrScheduler { Linear, Cosine, Constant };

/// Everything the trainer reads from the [train] section, plus the run seed.
struct TrainOptions {
  double learning_rate = 5e-7;  ///< peak AdamW learning rate
  LrScheduler lr_scheduler = LrScheduler::Linear;
  double warmup_ratio = 0.1;  ///< fraction of the optimizer steps warming up from 0
  double weight_decay = 0.0;  ///< decoupled; applied to matrices only (see trainer.cpp)
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  int batch_size = 8;  ///< pairs per micro-batch
  int gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;  ///< 0 = no clipping (the norm is still reported)
  int epochs = 1;
  int max_length = 1300;            ///< prompt + response tokens per sequence
  bool trim_shared_prefix = false;  ///< score responses from their first differing token (tokenize_pair)
  int save_steps = 0;               ///< also checkpoint every N optimizer steps; 0 = only at the end
  std::uint64_t seed = 0;           ///< run seed: the data order of each epoch
  /// Stop after this many optimizer steps in total, with a checkpoint, as if
  /// the process had been stopped there; 0 = train to the end. Not a [train]
  /// key: for tests and time-boxed runs.
  std::int64_t max_steps = 0;
  LoraOptions lora;                     ///< lora.rank 0 = full fine-tuning
  bool gradient_checkpointing = false;  ///< recompute activations in the backward pass

  /// The resolved [train] section (every key present, see config_schema.cpp).
  static TrainOptions from_config(const ConfigView& train, std::uint64_t seed);
};

/// Optimizer steps spent warming up: ceil(warmup_ratio * total_steps), as
/// transformers' TrainingArguments.get_warmup_steps.
std::int64_t warmup_steps(const TrainOptions& options, std::int64_t total_steps);

/// The learning rate of optimizer step `step` (0-based) out of `total_steps`,
/// transformers' schedules with W = warmup_steps(), T = total_steps:
///   step < W:   lr * step / W                        (so the first step has lr 0)
///   linear:     lr * (T - step) / (T - W)
///   cosine:     lr * 0.5 * (1 + cos(pi * (step - W) / (T - W)))
///   constant:   lr
double learning_rate_at(const TrainOptions& options, std::int64_t step, std::int64_t total_steps);

/// The order in which epoch `epoch` visits n items: a Fisher-Yates shuffle
/// driven by mt19937_64 seeded from (seed, epoch); the same on every platform.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch);

/// Scale the gradients of `parameters` so that their global L2 norm is at most
/// `max_norm` (PyTorch's clip_grad_norm_: factor max_norm / (norm + 1e-6) when
/// below 1); max_norm = 0 only measures. Returns the norm before clipping.
/// Parameters without a gradient are skipped.
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm);

/// AdamW over `parameters` with the options' rates and betas; weight decay
/// on matrices only (not on norm gains or biases).
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<at::Tensor>& parameters, const TrainOptions& options);

}  // namespace genius::core
