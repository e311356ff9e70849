// genius/loss.hpp — the Loss plugin interface: preference (or SFT) objective.
//
// The trainer computes, for a batch of B preference pairs, the SUM of response
// token log-probabilities under the policy (differentiable) and, when the loss
// asks for it, under the frozen reference model. A Loss turns those into one
// scalar to minimise plus named metrics.
//
// Contract:
//  - `compute` is pure: no state changes between calls, callable from any thread.
//  - Return metrics under TRL's names so runs compare across methods:
//    rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
//    logps/chosen, logps/rejected (means over the batch).
//  - The host checks every input and the returned loss for NaN/Inf and stops
//    the run with an error naming the plugin; a plugin must not hide a
//    non-finite value by clamping it away.
#pragma once

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include <genius/plugin.hpp>

namespace genius {

/// B preference pairs; every tensor is 1-D of length B, floating point, on the
/// policy's device.
struct PreferenceBatch {
  at::Tensor policy_chosen_logps;       ///< lp_pi(chosen): sum of token log-probs, requires grad
  at::Tensor policy_rejected_logps;     ///< lp_pi(rejected)
  at::Tensor reference_chosen_logps;    ///< lp_ref(chosen); undefined if !needs_reference()
  at::Tensor reference_rejected_logps;  ///< lp_ref(rejected)
  at::Tensor chosen_lengths;            ///< |chosen| in tokens (> 0)
  at::Tensor rejected_lengths;          ///< |rejected| in tokens (> 0)
  at::Tensor chosen_weights;            ///< advantage A(chosen) from the sampler
  at::Tensor rejected_weights;          ///< advantage A(rejected)
  at::Tensor chosen_average_weights;    ///< mean advantage of the step's pool

  std::int64_t size() const { return policy_chosen_logps.defined() ? policy_chosen_logps.size(0) : 0; }
};

struct LossOutput {
  at::Tensor loss;                        ///< scalar: mean over the batch, differentiable
  std::map<std::string, double> metrics;  ///< batch means, TRL names
};

class Loss : public Plugin {
 public:
  Loss() : Plugin(PluginKind::Loss) {}

  /// Whether `compute` reads the reference log-probs. When false the trainer
  /// skips the reference model entirely (SimPO, SFT, reference_free = true).
  virtual bool needs_reference() const = 0;

  virtual LossOutput compute(const PreferenceBatch& batch) const = 0;
};

}  // namespace genius
