// DPO: direct preference optimization (Rafailov et al. 2023), with the
// conservative label smoothing of cDPO.
#include <ATen/ATen.h>

#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class DpoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::add_nll_weight_key(
        genius::PluginManifest(genius::PluginKind::Loss, "dpo", "1.0.0",
                               "Direct preference optimization on summed log-ratios (sigmoid loss)")
            .key("beta", 0.1, "inverse temperature of the implicit reward", genius::at_least(0.0, false))
            .key("label_smoothing", 0.0, "probability that a preference label is flipped (cDPO)",
                 genius::Bounds{0.0, 0.5, true, false})
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)"));
    return m;
  }

  explicit DpoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        label_smoothing_(cfg.get<double>("label_smoothing")),
        reference_free_(cfg.get<bool>("reference_free")),
        nll_weight_(cfg.get<double>("nll_weight")) {}

  bool needs_reference() const override { return !reference_free_; }

  // z = beta * (r_w - r_l);  loss = -(1 - eps) * logsigmoid(z) - eps * logsigmoid(-z)
  // (+ nll_weight * mean(-lp_pi(chosen) / |chosen|) with nll_weight > 0)
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    const at::Tensor z = beta_ * (r_w - r_l);
    at::Tensor loss = (-(1.0 - label_smoothing_) * at::log_sigmoid(z) - label_smoothing_ * at::log_sigmoid(-z)).mean();
    auto metrics = genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch);
    if (const at::Tensor nll = genius::chosen_nll_term(batch, nll_weight_, metrics); nll.defined()) loss = loss + nll;
    return {genius::in_policy_dtype(loss, batch), std::move(metrics)};
  }

 private:
  double beta_;
  double label_smoothing_;
  bool reference_free_;
  double nll_weight_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(DpoLoss)
