// genius/preference_metrics.hpp — shared numerics for Loss plugins.
//
// The implicit-reward metrics every preference loss reports, under TRL's
// names, so runs of different losses are comparable. Include it from a loss
// plugin's .cpp (it pulls in ATen's operators).
#pragma once

#include <map>
#include <string>

#include <ATen/ATen.h>

#include <genius/loss.hpp>

namespace genius {

/// Batch means of: rewards/chosen, rewards/rejected, rewards/margins,
/// rewards/accuracies (fraction with chosen reward > rejected reward),
/// logps/chosen and logps/rejected (summed response log-probs of the policy).
/// Rewards are whatever the loss calls its implicit reward, e.g. for DPO
/// beta * (lp_pi - lp_ref); they are detached here.
inline std::map<std::string, double> reward_metrics(const at::Tensor& chosen_rewards,
                                                    const at::Tensor& rejected_rewards, const PreferenceBatch& batch) {
  at::NoGradGuard no_grad;
  auto mean = [](const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); };
  return {
      {"rewards/chosen", mean(chosen_rewards)},
      {"rewards/rejected", mean(rejected_rewards)},
      {"rewards/margins", mean(chosen_rewards - rejected_rewards)},
      {"rewards/accuracies", mean((chosen_rewards > rejected_rewards).to(at::kDouble))},
      {"logps/chosen", mean(batch.policy_chosen_logps)},
      {"logps/rejected", mean(batch.policy_rejected_logps)},
  };
}

/// The policy-minus-reference log-ratios (r_w, r_l) in float64. With
/// `reference_free` the reference is taken as a uniform model (log-prob 0),
/// so r = lp_pi.
inline std::pair<at::Tensor, at::Tensor> log_ratios(const PreferenceBatch& batch, bool reference_free) {
  at::Tensor r_w = batch.policy_chosen_logps.to(at::kDouble);
  at::Tensor r_l = batch.policy_rejected_logps.to(at::kDouble);
  if (!reference_free) {
    r_w = r_w - batch.reference_chosen_logps.to(at::kDouble);
    r_l = r_l - batch.reference_rejected_logps.to(at::kDouble);
  }
  return {r_w, r_l};
}

/// Declares the `nll_weight` key of chosen_nll_term() below in a loss's
/// manifest, so every loss that offers the term documents and bounds it alike.
inline PluginManifest add_nll_weight_key(PluginManifest m) {
  m.key("nll_weight", 0.0,
        "weight of an added per-token NLL of the chosen response (the reference code's NLL-regularised variant, "
        "RPO); 0 = off",
        at_least(0.0));
  return m;
}

/// The NLL regulariser some preference losses add (the reference code's
/// NLL-regularised variant, "RPO"): `weight` times the batch mean of the
/// chosen responses' per-token negative log-likelihood under the policy,
/// -lp_pi(chosen) / |chosen|, in float64. It anchors the chosen side, which a
/// pure preference loss is free to push down together with the rejected one.
/// Returns an undefined tensor when `weight` is 0 (add nothing). Records the
/// unweighted mean under "nll/chosen" in `metrics` either way.
inline at::Tensor chosen_nll_term(const PreferenceBatch& batch, double weight, std::map<std::string, double>& metrics) {
  const at::Tensor nll = -batch.policy_chosen_logps.to(at::kDouble) / batch.chosen_lengths.to(at::kDouble);
  metrics["nll/chosen"] = nll.detach().mean().item<double>();
  return weight == 0.0 ? at::Tensor() : weight * nll.mean();
}

/// The loss tensor in the dtype of the policy log-probs (the math above runs
/// in float64 so that large margins and exponents stay exact).
inline at::Tensor in_policy_dtype(const at::Tensor& loss, const PreferenceBatch& batch) {
  return loss.to(batch.policy_chosen_logps.scalar_type());
}

}  // namespace genius
