// Supervised (next-token) training of a policy on (prompt, response) texts:
// the stand-in for the pretraining a real LLM has had (`genius pretrain`).
// Labels are read here, never in a self-training run.
//
//   TrainOptions options = TrainOptions::from_config(cfg.view("train"), seed);
//   SupervisedSummary s = train_supervised(backend, examples, options, on_step);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <genius/model_backend.hpp>

#include "train/optimizer.hpp"
#include "train/optimizer_loop.hpp"

namespace genius::core {

struct TextExample {
  std::string prompt;    ///< the query; chat-formatted with the backend's template
  std::string response;  ///< the target; followed by the backend's first EOS id
};

struct SupervisedSummary {
  std::int64_t steps = 0;
  std::int64_t tokens = 0;    ///< response tokens trained on (all epochs)
  std::size_t truncated = 0;  ///< responses cut to max_length (their EOS lost)
  std::size_t dropped = 0;    ///< examples whose prompt alone has max_length tokens or more
  double first_loss = 0.0;    ///< mean token NLL of the first step
  double last_loss = 0.0;     ///< mean token NLL of the last step
  double seconds = 0.0;
  double tokens_per_second = 0.0;  ///< prompt + response tokens through the model per second
};

/// Minimise the mean negative log-likelihood of the response tokens through
/// the one optimizer loop (optimizer_loop.hpp: AdamW, the options' schedule,
/// batch size, accumulation, clipping and epochs), without checkpoints.
/// Examples longer than max_length tokens lose the end of their response;
/// those whose prompt alone fills max_length are dropped (both counted and
/// logged).
/// The callback sees the loop's record (optimizer_loop.hpp) after every
/// optimizer step. Throws std::runtime_error when the loss or the gradient
/// stops being finite.
SupervisedSummary train_supervised(ModelBackend& policy, const std::vector<TextExample>& examples,
                                   const TrainOptions& options, const StepCallback& on_step = {});

}  // namespace genius::core
