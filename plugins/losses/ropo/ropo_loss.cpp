// ROPO: robust preference optimization (Liang et al. 2024), the noise-tolerant
// baseline of the Genius paper's Table 4, with the constants of the Genius
// released code (aco_utils.py: alpha 0.2, gamma 0.1).
#include <ATen/ATen.h>

#include <genius/error.hpp>
#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class RopoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::add_nll_weight_key(
        genius::PluginManifest(genius::PluginKind::Loss, "ropo", "1.0.0",
                               "Robust preference optimization: gamma * DPO's loss plus a bounded, noise-tolerant "
                               "alpha * sigmoid(-z) term")
            .key("beta", 0.1, "inverse temperature of the implicit reward", genius::at_least(0.0, false))
            .key("alpha", 0.2, "weight of the noise-tolerant term sigmoid(-z) (the released code's 0.2)",
                 genius::at_least(0.0))
            .key("gamma", 0.1, "weight of the DPO term -logsigmoid(z) (the released code's 0.1)", genius::at_least(0.0))
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)"));
    return m;
  }

  explicit RopoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        alpha_(cfg.get<double>("alpha")),
        gamma_(cfg.get<double>("gamma")),
        reference_free_(cfg.get<bool>("reference_free")),
        nll_weight_(cfg.get<double>("nll_weight")) {
    if (alpha_ == 0 && gamma_ == 0)
      throw genius::PluginError("ropo", "alpha and gamma are both 0: the loss would be 0 for every pair");
  }

  bool needs_reference() const override { return !reference_free_; }

  // z = beta * (r_w - r_l);  loss = alpha * sigmoid(-z) - gamma * logsigmoid(z)
  // The sigmoid term is bounded, so a mislabeled pair (z far below 0) costs at
  // most alpha and its gradient vanishes; the DPO term keeps the fit going.
  // (+ nll_weight * mean(-lp_pi(chosen) / |chosen|) with nll_weight > 0)
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    const at::Tensor z = beta_ * (r_w - r_l);
    at::Tensor loss = (alpha_ * at::sigmoid(-z) - gamma_ * at::log_sigmoid(z)).mean();
    auto metrics = genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch);
    if (const at::Tensor nll = genius::chosen_nll_term(batch, nll_weight_, metrics); nll.defined()) loss = loss + nll;
    return {genius::in_policy_dtype(loss, batch), std::move(metrics)};
  }

 private:
  double beta_;
  double alpha_;
  double gamma_;
  bool reference_free_;
  double nll_weight_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(RopoLoss)
