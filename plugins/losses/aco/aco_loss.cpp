// ACO: advantage-calibrated optimization, the Genius loss (arXiv 2504.08672,
// algorithm.md §4), in the paper's form and in the released code's.
//
// With r = lp_pi - lp_ref and the pair's advantages A_w (chosen), A_l (rejected):
//   paper          w = min(1, exp(-(A_l - A_w) / alpha))   (Eq. 11-12, Fig. 3)
//   released-code  f = max(1, exp(-(A_l - A_w) / alpha))   (aco_utils.py)
//   loss = -logsigmoid(beta * (r_w - w * r_l))
// The paper's w is 1 (exactly DPO) in the normal region A_l <= A_w and decays
// below 1 in the calibration region A_l > A_w, where the rejected step brought
// more advantage than the chosen one: the self-reward is then suspect, so the
// rejected side is pushed down less. The released code's f is 1 where
// A_l >= A_w and grows above 1 where A_l < A_w: a heavier push where the
// advantages agree with the ranking, the opposite direction.
#include <string>

#include <ATen/ATen.h>

#include <genius/error.hpp>
#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class AcoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::add_nll_weight_key(
        genius::PluginManifest(genius::PluginKind::Loss, "aco", "1.1.0",
                               "Advantage-calibrated DPO (Genius): the rejected log-ratio is weighted by "
                               "min(1, exp((A_chosen - A_rejected) / alpha)) (the paper) or max(1, ...) (its code)")
            .key("beta", 0.1, "inverse temperature of the implicit reward", genius::at_least(0.0, false))
            .key("alpha", 1.0, "advantage temperature of the calibration factor", genius::at_least(0.0, false))
            .choice("calibration", "paper", {"paper", "released-code"},
                    "the factor on the rejected log-ratio: min(1, exp((A_w - A_l) / alpha)) as the paper defines it "
                    "(a smaller push where A_l > A_w), or max(1, ...) as its released code computes it (a larger "
                    "push where A_w > A_l)")
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)"));
    return m;
  }

  explicit AcoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        alpha_(cfg.get<double>("alpha")),
        paper_(cfg.get<std::string>("calibration") == "paper"),
        reference_free_(cfg.get<bool>("reference_free")),
        nll_weight_(cfg.get<double>("nll_weight")) {}

  bool needs_reference() const override { return !reference_free_; }

  // The factor is a constant (advantages carry no gradient). The paper's is
  // exp(min(0, gap) / alpha) and cannot overflow; the released code's,
  // exp(max(0, gap) / alpha), can, and is then an error rather than a NaN.
  // With nll_weight > 0, plus nll_weight * mean(-lp_pi(chosen) / |chosen|).
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    const at::Tensor gap = (batch.chosen_weights - batch.rejected_weights).to(at::kDouble).detach();  // A_w - A_l
    const at::Tensor factor =
        paper_ ? at::exp(at::clamp_max(gap, 0.0) / alpha_) : at::exp(at::clamp_min(gap, 0.0) / alpha_);
    if (const at::Tensor overflow = ~at::isfinite(factor); overflow.any().item<bool>()) {
      const auto i = overflow.nonzero()[0][0].item<std::int64_t>();
      throw genius::PluginError(name(), "the calibration factor exp((A_w - A_l) / alpha) is not finite at pair " +
                                            std::to_string(i) + " (advantage gap " +
                                            std::to_string(gap[i].item<double>()) + ", alpha " +
                                            std::to_string(alpha_) + "); use a larger alpha");
    }
    at::Tensor loss = -at::log_sigmoid(beta_ * (r_w - factor * r_l)).mean();

    auto metrics = genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch);
    metrics["aco/factor"] = factor.mean().item<double>();
    // The calibration region, where this form's factor leaves DPO: A_l > A_w
    // for the paper's, A_w > A_l for the released code's.
    metrics["aco/calibrated"] = (paper_ ? gap < 0.0 : gap > 0.0).to(at::kDouble).mean().item<double>();
    if (const at::Tensor nll = genius::chosen_nll_term(batch, nll_weight_, metrics); nll.defined()) loss = loss + nll;
    return {genius::in_policy_dtype(loss, batch), std::move(metrics)};
  }

 private:
  double beta_;
  double alpha_;
  bool paper_;  ///< calibration = "paper" (else "released-code")
  bool reference_free_;
  double nll_weight_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(AcoLoss)
