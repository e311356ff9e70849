// The trainer: preference optimisation of a policy ModelBackend with a Loss
// plugin (algorithm.md §1 step 3 and §4), resumable after kill -9.
//
//   TrainOptions options = TrainOptions::from_config(cfg.view("train"), run_seed);
//   Trainer trainer(*policy, *loss, options, run_dir / "iter-1" / "train");
//   TrainSummary s = trainer.run(pairs, [&](const nlohmann::json& r) { metrics.append(r); });
//   // the trained weights: s.checkpoint / "model" (also loaded into *policy)
//
// What happens in run():
//  1. Tokenise every pair (tokenize_pair): prompt = the chat-formatted query,
//     responses end with EOS; pairs longer than max_length are truncated or
//     dropped, and counted.
//  2. Reference log-probs (only when loss.needs_reference()): computed once
//     per pair with a frozen copy of the policy as it is before training, and
//     cached in <state_dir>/reference_logps.jsonl; every later epoch, and a
//     resumed run, reads the cache.
//  3. AdamW steps over micro-batches of `batch_size` pairs, accumulating
//     `gradient_accumulation_steps` of them, with clipping and the lr schedule.
//     Each epoch visits the pairs in a permutation seeded by (seed, epoch).
//  4. One record per optimizer step goes to the caller's callback.
//  5. Checkpoints <state_dir>/checkpoint-<step>/ {model/, optimizer.pt,
//     trainer_state.json} every `save_steps` steps and at the end. A new
//     Trainer on the same state_dir resumes from the latest one and ends with
//     the same weights as a run that was never interrupted.
//
// The state directory belongs to one training stage (one iteration): the
// cached reference log-probs are those of that iteration's starting policy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/config.hpp>
#include <genius/loss.hpp>
#include <genius/model_backend.hpp>
#include <genius/types.hpp>

#include "train/optimizer.hpp"
#include "train/optimizer_loop.hpp"

namespace genius::core {

class Cluster;

/// One pair as token ids, ready to score.
struct TokenizedPair {
  std::vector<TokenId> prompt_ids;    ///< encode(format_chat(prompt))
  std::vector<TokenId> chosen_ids;    ///< encode(chosen) + EOS, maybe truncated
  std::vector<TokenId> rejected_ids;  ///< encode(rejected) + EOS, maybe truncated
  bool chosen_truncated = false;
  bool rejected_truncated = false;
};

/// Tokenise `pair` for training. Each response is followed by the backend's
/// first EOS id, as TRL's DPO trainer appends eos_token_id, so the model also
/// learns where a response stops. When prompt + response exceeds
/// `max_length` tokens the response loses tokens from its end (the EOS
/// first). Returns nullopt when the prompt alone leaves no room for one
/// response token (prompt length >= max_length, the prompt including the
/// shared response start when `trim_shared_prefix`): the pair is dropped.
///
/// With `trim_shared_prefix` the tokens both responses begin with move to
/// the end of the prompt, so the loss sees only where they differ (step-level
/// DPO variants score this way; with ACO's factor f != 1, a shared prefix
/// counted in both log-ratios would otherwise move by (1 - f): down for the
/// released code's f > 1, up for the paper's f < 1).
std::optional<TokenizedPair> tokenize_pair(const ModelBackend& backend, const PreferencePair& pair, int max_length,
                                           bool trim_shared_prefix = false);

/// What a call to Trainer::run did.
struct TrainSummary {
  std::int64_t steps = 0;               ///< optimizer steps done, counting those before a resume
  std::int64_t total_steps = 0;         ///< steps of the whole schedule (all epochs)
  std::int64_t resumed_from_step = 0;   ///< the checkpoint's step this call started from; 0 = fresh
  bool finished = false;                ///< every epoch done (false when max_steps stopped it; true with no pairs)
  std::size_t pairs_used = 0;           ///< pairs kept after tokenisation
  std::size_t pairs_dropped = 0;        ///< prompt alone too long for max_length
  std::size_t responses_truncated = 0;  ///< chosen or rejected responses cut to max_length
  std::int64_t pairs_seen = 0;          ///< pairs trained on, all epochs, counting those before a resume
  std::size_t reference_computed = 0;   ///< pairs whose reference log-probs this call computed (not cached)
  double last_loss = 0.0;               ///< loss of the last step done, by this call or before a resume
  double seconds = 0.0;                 ///< wall time of this call's optimizer steps
  double tokens_per_second = 0.0;       ///< policy tokens (prompt + response, both sides) per second
  std::filesystem::path checkpoint;     ///< the latest checkpoint directory; "" when there is none
  double all_reduce_seconds = 0.0;      ///< of `seconds`, the time in gradient all-reduce (several ranks)
};

class Trainer {
 public:
  /// `policy` is trained in place; it must hold the iteration's starting
  /// weights (also on a resume: the checkpoint is loaded on top of them, and
  /// the reference is that starting policy). `loss` must outlive the trainer.
  /// With a distributed `cluster`, every rank runs a Trainer on the same
  /// pairs: each takes its share of every step's pairs, gradients are summed
  /// (the step is the one-process step), and rank 0 writes the state directory.
  Trainer(ModelBackend& policy, const Loss& loss, TrainOptions options, std::filesystem::path state_dir,
          Cluster* cluster = nullptr);

  /// Train on `pairs` (resuming from the latest checkpoint in the state
  /// directory if there is one) and return what was done. After it returns,
  /// the policy holds the trained weights. The callback sees one record per
  /// optimizer step, before that step's checkpoint is written; after a
  /// resume, records of the steps after the checkpoint are sent again, so a
  /// caller keeping a log drops its records with step > resume_step().
  /// Throws genius::PluginError when the loss (or its input) is not finite,
  /// and std::runtime_error when the state directory belongs to other pairs
  /// or options.
  TrainSummary run(const std::vector<PreferencePair>& pairs, const StepCallback& on_step = {});

  /// The step of the latest checkpoint in the state directory; 0 when none.
  std::int64_t resume_step() const;

  /// The latest complete checkpoint directory, or nullopt.
  std::optional<std::filesystem::path> latest_checkpoint() const;

  const std::filesystem::path& state_dir() const { return state_dir_; }
  const TrainOptions& options() const { return options_; }

 private:
  ModelBackend& policy_;
  const Loss& loss_;
  TrainOptions options_;
  std::filesystem::path state_dir_;
  Cluster* cluster_;
  OptimizerLoop loop_;  ///< the one optimizer loop, over this state directory (checks the options)
};

}  // namespace genius::core
