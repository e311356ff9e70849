#include "supervised.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <torch/optim/adamw.h>

namespace genius::core {

SupervisedSummary train_supervised(ModelBackend& policy, const std::vector<TextExample>& examples,
                                   const TrainOptions& options, const StepCallback& on_step) {
  SupervisedSummary summary;
  if (examples.empty()) return summary;
  const auto eos = policy.eos_token_ids();
  std::vector<ScoringExample> tokenized;
  tokenized.reserve(examples.size());
  for (const auto& e : examples) {
    ScoringExample t{policy.encode(policy.format_chat(e.prompt)), policy.encode(e.response)};
    if (!eos.empty()) t.response_ids.push_back(eos.front());
    const auto max_length = static_cast<std::size_t>(options.max_length);
    const std::size_t room = max_length - std::min(t.prompt_ids.size(), max_length);
    if (room == 0) {
      ++summary.dropped;
      continue;
    }
    if (t.response_ids.size() > room) {
      t.response_ids.resize(room);
      ++summary.truncated;
    }
    tokenized.push_back(std::move(t));
  }
  if (tokenized.empty())
    throw std::runtime_error("every example's prompt has max_length (" + std::to_string(options.max_length) +
                             ") tokens or more; raise [train] max_length");
  if (summary.dropped > 0)
    spdlog::warn("supervised training: {} of {} examples dropped: the prompt alone has max_length ({}) tokens or more",
                 summary.dropped, examples.size(), options.max_length);
  if (summary.truncated > 0)
    spdlog::warn("supervised training: {} of {} responses cut to max_length ({} tokens with the prompt); raise "
                 "[train] max_length",
                 summary.truncated, examples.size(), options.max_length);

  const auto batch = static_cast<std::size_t>(options.batch_size);
  const auto accumulation = static_cast<std::size_t>(options.gradient_accumulation_steps);
  const std::size_t micro_per_epoch = (tokenized.size() + batch - 1) / batch;
  const std::int64_t steps_per_epoch = static_cast<std::int64_t>((micro_per_epoch + accumulation - 1) / accumulation);
  const std::int64_t total_steps = steps_per_epoch * options.epochs;

  const std::vector<at::Tensor> parameters = policy.parameters();
  const auto optimizer = make_adamw(parameters, options);
  policy.set_training(true);
  const auto start = std::chrono::steady_clock::now();
  std::int64_t step = 0, model_tokens = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<std::size_t> order = epoch_order(tokenized.size(), options.seed, epoch);
    for (std::size_t first_micro = 0; first_micro < micro_per_epoch; first_micro += accumulation, ++step) {
      const std::size_t last_micro = std::min(micro_per_epoch, first_micro + accumulation);
      // Every response token of the optimizer step weighs the same.
      std::int64_t step_tokens = 0;
      for (std::size_t i = first_micro * batch; i < std::min(order.size(), last_micro * batch); ++i)
        step_tokens += static_cast<std::int64_t>(tokenized[order[i]].response_ids.size());
      const double lr = learning_rate_at(options, step, total_steps);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
      optimizer->zero_grad();
      double loss_sum = 0.0;
      for (std::size_t micro = first_micro; micro < last_micro; ++micro) {
        std::vector<ScoringExample> rows;
        for (std::size_t i = micro * batch; i < std::min(order.size(), (micro + 1) * batch); ++i) {
          rows.push_back(tokenized[order[i]]);
          model_tokens += static_cast<std::int64_t>(rows.back().prompt_ids.size() + rows.back().response_ids.size());
        }
        const at::Tensor loss = -policy.sequence_logprobs(rows).sum() / static_cast<double>(step_tokens);
        loss.backward();
        loss_sum += loss.item<double>();
      }
      if (!std::isfinite(loss_sum))
        throw std::runtime_error("supervised training: the loss is not finite at step " + std::to_string(step + 1) +
                                 "; lower [train] learning_rate");
      const double grad_norm = clip_grad_norm(parameters, options.max_grad_norm);
      optimizer->step();
      summary.tokens += step_tokens;
      if (step == 0) summary.first_loss = loss_sum;
      summary.last_loss = loss_sum;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (on_step)
        on_step({{"step", step + 1},
                 {"total_steps", total_steps},
                 {"epoch", double(epoch) + double(last_micro) / double(micro_per_epoch)},
                 {"loss", loss_sum},
                 {"learning_rate", lr},
                 {"grad_norm", grad_norm},
                 {"tokens", step_tokens},
                 {"tokens_per_second", seconds > 0 ? double(model_tokens) / seconds : 0.0},
                 {"seconds", seconds}});
    }
  }
  policy.set_training(false);
  summary.steps = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.tokens_per_second = summary.seconds > 0 ? double(model_tokens) / summary.seconds : 0.0;
  return summary;
}

}  // namespace genius::core
