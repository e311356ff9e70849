// The one optimizer loop of Genius: preference training (trainer.hpp, every
// loss plugin) and supervised next-token training (supervised.hpp, `genius
// pretrain`) are two Objectives run by OptimizerLoop. One optimizer step is a
// few visible calls:
//
//   lr = learning_rate_at(options, step, total)     the schedule
//   optimizer.zero_grad()
//   objective.begin_step(step's examples)
//   for each micro-batch: r = objective.micro_batch(policy, micro); r.loss.backward()
//   grad_norm = clip_grad_norm(parameters, max_grad_norm)
//   optimizer.step()
//
// Around it: each epoch visits the examples in epoch_order(seed, epoch);
// steps never span two epochs; a checkpoint (weights, AdamW state, the
// position) every save_steps and at the end, from which a new loop on the
// same state directory resumes with the same result as an uninterrupted run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <genius/model_backend.hpp>
#include <genius/types.hpp>

#include "train/optimizer.hpp"

namespace genius::core {

class Cluster;

/// FNV-1a, 64 bits: a stable fingerprint of token ids and numbers, to tell
/// whether a cache or a checkpoint belongs to this data.
class Fingerprint {
 public:
  void add(const void* data, std::size_t size);
  void add(const std::vector<TokenId>& ids);  ///< with its length, so [1,2][3] != [1][2,3]
  void add(double x) { add(&x, sizeof x); }
  std::string hex() const;

 private:
  std::uint64_t hash_ = 14695981039346656037ull;
};

/// How the examples of one epoch split into optimizer steps: micro-batches of
/// `batch_size` examples in the epoch's order (the last may be smaller), and
/// `accumulation` micro-batches per step (the last step of an epoch may have
/// fewer). Steps never span two epochs, so every epoch starts with a fresh
/// permutation.
struct StepPlan {
  std::size_t examples = 0;
  std::int64_t batch_size = 1, accumulation = 1, epochs = 1;

  std::int64_t per_step() const { return batch_size * accumulation; }
  std::int64_t steps_per_epoch() const { return (static_cast<std::int64_t>(examples) + per_step() - 1) / per_step(); }
  std::int64_t total_steps() const { return steps_per_epoch() * epochs; }
  int epoch_of(std::int64_t step) const { return static_cast<int>(step / steps_per_epoch()); }
  /// Positions [begin, end) of the epoch's order that optimizer step `step` (0-based) trains on.
  std::pair<std::size_t, std::size_t> range(std::int64_t step) const;
  /// Examples trained on once `steps` optimizer steps are done.
  std::int64_t seen(std::int64_t steps) const;
};

/// One micro-batch's part of an optimizer step.
struct MicroBatchResult {
  at::Tensor loss;                        ///< its share of the step's loss; the loop calls backward() on it
  double value = 0.0;                     ///< that share's value (the step's loss is their sum)
  std::map<std::string, double> metrics;  ///< its shares of the step's metrics
  std::int64_t tokens = 0;                ///< tokens it put through the policy
};

/// What the loop minimises, over `size()` examples.
class Objective {
 public:
  virtual ~Objective() = default;
  /// Who is at fault when the numbers break: a plugin name (errors are its
  /// PluginError) or "" (a std::runtime_error).
  virtual std::string plugin() const { return ""; }
  virtual std::string description() const = 0;  ///< for the log: "loss 'aco'"
  virtual std::size_t size() const = 0;
  /// Fingerprint of the examples (a checkpoint resumes only the same data).
  virtual std::string fingerprint() const = 0;
  /// Once, before the first step this call runs, with the policy still as it
  /// was at the start of training (no checkpoint loaded yet); `start_step` is
  /// the step the loop resumes from (0 = fresh).
  virtual void prepare(ModelBackend& /*policy*/, std::int64_t /*start_step*/) {}
  /// The examples (indices) of the step about to run, before its micro-batches.
  virtual void begin_step(const std::vector<std::size_t>& /*examples*/) {}
  virtual MicroBatchResult micro_batch(ModelBackend& policy, const std::vector<std::size_t>& examples) = 0;
};

/// A per-step record for the callback (and metrics.jsonl):
///   step (1-based optimizer step), epoch (fractional, as transformers logs it),
///   loss, learning_rate (the lr this step used), grad_norm (before clipping),
///   every metric of the objective under its own (TRL) name, tokens (policy
///   tokens this step), tokens_per_second, pairs_seen, seconds.
using StepCallback = std::function<void(const nlohmann::json& record)>;

struct LoopSummary {
  std::int64_t steps = 0;              ///< optimizer steps done, counting those before a resume
  std::int64_t total_steps = 0;        ///< steps of the whole schedule
  std::int64_t resumed_from_step = 0;  ///< 0 = fresh
  bool finished = false;               ///< every epoch done (false when max_steps stopped it)
  std::int64_t seen = 0;               ///< examples trained on, all epochs, counting those before a resume
  double first_loss = 0.0;             ///< loss of the first step this call ran
  double last_loss = 0.0;              ///< loss of the last step done, by this call or before a resume
  double seconds = 0.0;                ///< wall time of this call's optimizer steps
  std::int64_t tokens = 0;             ///< policy tokens of this call's steps
  std::filesystem::path checkpoint;    ///< the latest checkpoint directory; "" when there is none
  double all_reduce_seconds = 0.0;     ///< of `seconds`, the time in gradient all-reduce
};

class OptimizerLoop {
 public:
  /// `state_dir` holds the checkpoints (checkpoint-<step>/: model/,
  /// optimizer.pt, trainer_state.json); "" trains without checkpoints.
  ///
  /// With a distributed `cluster` (data parallelism), rank r takes
  /// positions r, r + world, ... of each step's examples and runs them in
  /// micro-batches of batch_size; the gradients are summed over the ranks
  /// (each micro-batch's loss is its share of the whole step's), so the step
  /// is the one-process step with the same global batch and lr. Every rank
  /// holds the same weights after it; rank 0 writes the checkpoints.
  OptimizerLoop(ModelBackend& policy, TrainOptions options, std::filesystem::path state_dir,
                Cluster* cluster = nullptr);

  /// Train `objective` (resuming from the latest checkpoint of the state
  /// directory); the policy is in training mode during the steps and in
  /// evaluation mode after, also when a step throws. The callback sees one
  /// record per step, before that step's checkpoint; after a resume the
  /// records of the steps after the checkpoint come again.
  LoopSummary run(Objective& objective, const StepCallback& on_step = {});

  std::int64_t resume_step() const;  ///< 0 when there is no checkpoint
  std::optional<std::filesystem::path> latest_checkpoint() const;

 private:
  ModelBackend& policy_;
  TrainOptions options_;
  std::filesystem::path state_dir_;
  Cluster* cluster_;
};

}  // namespace genius::core
