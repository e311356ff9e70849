// SimPO: simple preference optimization (Meng et al. 2024): reference-free,
// length-averaged log-probs and a target reward margin gamma.
#include <ATen/ATen.h>

#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class SimpoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Loss, "simpo", "1.0.0",
                               "Reference-free preference loss on length-averaged log-probs with margin gamma")
            .key("beta", 2.0, "scale of the length-averaged log-prob difference", genius::at_least(0.0, false))
            .key("gamma", 1.0, "target reward margin (the Genius reference uses 1)", genius::at_least(0.0));
    return m;
  }

  explicit SimpoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")), gamma_(cfg.get<double>("gamma")) {}

  bool needs_reference() const override { return false; }

  // a(y) = lp_pi(y) / |y|;  loss = -logsigmoid(beta * (a(chosen) - a(rejected)) - gamma)
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    const at::Tensor a_w = batch.policy_chosen_logps.to(at::kDouble) / batch.chosen_lengths.to(at::kDouble);
    const at::Tensor a_l = batch.policy_rejected_logps.to(at::kDouble) / batch.rejected_lengths.to(at::kDouble);
    const at::Tensor loss = -at::log_sigmoid(beta_ * (a_w - a_l) - gamma_).mean();
    return {genius::in_policy_dtype(loss, batch), genius::reward_metrics(beta_ * a_w, beta_ * a_l, batch)};
  }

 private:
  double beta_;
  double gamma_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(SimpoLoss)
