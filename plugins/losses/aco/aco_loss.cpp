// ACO: advantage-calibrated optimization, the Genius loss (arXiv 2504.08672).
#include <ATen/ATen.h>

#include <genius/error.hpp>
#include <genius/loss.hpp>
#include <genius/preference_metrics.hpp>
#include <genius/registration.hpp>

namespace {

class AcoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::add_nll_weight_key(
        genius::PluginManifest(genius::PluginKind::Loss, "aco", "1.0.0",
                               "Advantage-calibrated DPO (Genius): the rejected log-ratio is weighted by "
                               "max(1, exp((A_chosen - A_rejected) / alpha))")
            .key("beta", 0.1, "inverse temperature of the implicit reward", genius::at_least(0.0, false))
            .key("alpha", 1.0, "advantage temperature of the calibration factor", genius::at_least(0.0, false))
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)"));
    return m;
  }

  explicit AcoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        alpha_(cfg.get<double>("alpha")),
        reference_free_(cfg.get<bool>("reference_free")),
        nll_weight_(cfg.get<double>("nll_weight")) {}

  bool needs_reference() const override { return !reference_free_; }

  // f = max(1, exp((w_w - w_l) / alpha)), a constant (advantages carry no gradient);
  // loss = -logsigmoid(beta * (r_w - f * r_l)). With w_l >= w_w, f = 1: exactly DPO.
  // With nll_weight > 0, plus nll_weight * mean(-lp_pi(chosen) / |chosen|).
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    const at::Tensor gap = (batch.chosen_weights - batch.rejected_weights).to(at::kDouble).detach();
    const at::Tensor factor = at::clamp_min(at::exp(gap / alpha_), 1.0);
    if (const at::Tensor overflow = ~at::isfinite(factor); overflow.any().item<bool>()) {
      const auto i = overflow.nonzero()[0][0].item<std::int64_t>();
      throw genius::PluginError(name(), "the calibration factor exp((w_w - w_l) / alpha) is not finite at pair " +
                                            std::to_string(i) + " (advantage gap " +
                                            std::to_string(gap[i].item<double>()) + ", alpha " +
                                            std::to_string(alpha_) + "); use a larger alpha");
    }
    at::Tensor loss = -at::log_sigmoid(beta_ * (r_w - factor * r_l)).mean();

    auto metrics = genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch);
    metrics["aco/factor"] = factor.mean().item<double>();
    if (const at::Tensor nll = genius::chosen_nll_term(batch, nll_weight_, metrics); nll.defined()) loss = loss + nll;
    return {genius::in_policy_dtype(loss, batch), std::move(metrics)};
  }

 private:
  double beta_;
  double alpha_;
  bool reference_free_;
  double nll_weight_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(AcoLoss)
