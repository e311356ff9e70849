#include "train/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include <torch/torch.h>

namespace genius::core {

// ------------------------------------------------------------------ options

TrainOptions TrainOptions::from_config(const ConfigView& train, std::uint64_t seed) {
  TrainOptions o;
  o.learning_rate = train.get<double>("learning_rate");
  const auto scheduler = train.get<std::string>("lr_scheduler");
  if (scheduler == "linear")
    o.lr_scheduler = LrScheduler::Linear;
  else if (scheduler == "cosine")
    o.lr_scheduler = LrScheduler::Cosine;
  else if (scheduler == "constant")
    o.lr_scheduler = LrScheduler::Constant;
  else
    throw ConfigError("train.lr_scheduler: unknown schedule '" + scheduler + "' (linear, cosine, constant)");
  o.warmup_ratio = train.get<double>("warmup_ratio");
  o.weight_decay = train.get<double>("weight_decay");
  o.adam_beta1 = train.get<double>("adam_beta1");
  o.adam_beta2 = train.get<double>("adam_beta2");
  o.adam_epsilon = train.get<double>("adam_epsilon");
  o.batch_size = train.get<int>("batch_size");
  o.gradient_accumulation_steps = train.get<int>("gradient_accumulation_steps");
  o.max_grad_norm = train.get<double>("max_grad_norm");
  o.epochs = train.get<int>("epochs");
  o.max_length = train.get<int>("max_length");
  o.save_steps = train.get<int>("save_steps");
  o.trim_shared_prefix = train.get<bool>("trim_shared_prefix");
  o.seed = seed;
  o.lora.rank = train.get<int>("lora_rank");
  o.lora.alpha = train.get<double>("lora_alpha");
  o.lora.dropout = train.get<double>("lora_dropout");
  o.lora.target_modules = train.get<std::vector<std::string>>("lora_target_modules");
  o.lora.seed = seed;
  static const std::vector<std::string> known = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  if (o.lora.rank > 0 && o.lora.target_modules.empty())
    throw ConfigError("train.lora_target_modules: empty, so no layer would get an adapter");
  for (const std::string& m : o.lora.target_modules)
    if (std::find(known.begin(), known.end(), m) == known.end())
      throw ConfigError("train.lora_target_modules: unknown module '" + m +
                        "' (PEFT's names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
  o.gradient_checkpointing = train.get<bool>("gradient_checkpointing");
  return o;
}

// ----------------------------------------------------------------- schedule

std::int64_t warmup_steps(const TrainOptions& options, std::int64_t total_steps) {
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(total_steps) * options.warmup_ratio));
}

constexpr double kPi = 3.14159265358979323846;

// transformers' get_{linear,cosine,constant}_schedule_with_warmup, evaluated
// at the number of scheduler steps already taken (so step 0 of a warmup runs
// at lr 0, as there).
double learning_rate_at(const TrainOptions& options, std::int64_t step, std::int64_t total_steps) {
  const std::int64_t warmup = warmup_steps(options, total_steps);
  if (step < warmup) return options.learning_rate * static_cast<double>(step) / static_cast<double>(warmup);
  const double decay_steps = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup));
  const double progress = static_cast<double>(step - warmup) / decay_steps;
  switch (options.lr_scheduler) {
    case LrScheduler::Linear:
      return options.learning_rate * std::max(0.0, 1.0 - progress);
    case LrScheduler::Cosine:
      return options.learning_rate * std::max(0.0, 0.5 * (1.0 + std::cos(kPi * progress)));
    case LrScheduler::Constant:
      return options.learning_rate;
  }
  return options.learning_rate;
}

// Fisher-Yates with `rng() % (i + 1)` rather than std::uniform_int_distribution,
// whose output differs between standard libraries (as genius/pairs.hpp does):
// a run's data order must not depend on the toolchain.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);
  return order;
}

// norm = || (||g_1||, ..., ||g_k||) ||_2; if max_norm > 0 and
// c = max_norm / (norm + 1e-6) < 1, every gradient is multiplied by c.
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm().to(at::kDouble).reshape({1}));
  if (norms.empty()) return 0.0;
  const double norm = at::cat(norms).norm().item<double>();
  const double coefficient = max_norm / (norm + 1e-6);
  if (max_norm > 0 && coefficient < 1.0)
    for (const auto& p : parameters)
      if (p.grad().defined()) p.grad().detach().mul_(coefficient);
  return norm;
}

// ------------------------------------------------------------- tokenisation

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<at::Tensor>& parameters,
                                                const TrainOptions& options) {
  // Weight decay goes to matrices (embeddings, projections) but not to 1-D
  // parameters (norm gains, biases), as nanoGPT and transformers' Trainer
  // do; decay on a norm gain pulls it towards 0 and hurts.
  std::vector<at::Tensor> decayed, not_decayed;
  for (const auto& p : parameters) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  const auto adamw = [&](double weight_decay) {
    return torch::optim::AdamWOptions(options.learning_rate)
        .betas({options.adam_beta1, options.adam_beta2})
        .eps(options.adam_epsilon)
        .weight_decay(weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty())
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(adamw(options.weight_decay)));
  if (!not_decayed.empty()) groups.emplace_back(not_decayed, std::make_unique<torch::optim::AdamWOptions>(adamw(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), adamw(options.weight_decay));
}

}  // namespace genius::core
