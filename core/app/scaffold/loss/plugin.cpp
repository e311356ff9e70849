// @NAME@: a preference loss for Genius (scaffolded by `genius new-plugin`).
//
// The sigmoid (Bradley-Terry) preference loss on the policy-minus-reference
// log-ratio margin, as in DPO:
//   r = lp_policy - lp_reference             (per response, summed over tokens)
//   loss = -log sigmoid(beta * (r_chosen - r_rejected)),  averaged over the batch
// TODO: replace the formula in compute() with your own; keep the metrics.
#include <ATen/ATen.h>

#include <genius/loss.hpp>
#include <genius/helpers/preference_metrics.hpp>
#include <genius/registration.hpp>

namespace {

class @CLASS@ final : public genius::Loss {
 public:
  // Read by the host without creating the object (`genius plugins`, config
  // validation): every key of [loss] must be declared here.
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Loss, "@NAME@", "0.1.0",
                               "sigmoid preference loss on the log-ratio margin (scaffold)")
            .key("beta", 0.1, "scale of the log-ratio margin", genius::at_least(0.0, false))
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)");
    return m;
  }

  // The host has validated [loss] against the manifest: every key is present,
  // of its declared type and in bounds.
  explicit @CLASS@(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")), reference_free_(cfg.get<bool>("reference_free")) {}

  // false: the trainer does not compute reference log-probs (they arrive as 0).
  bool needs_reference() const override { return !reference_free_; }

  // Called from the trainer with one micro-batch; const and stateless.
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);  // float64, differentiable
    const at::Tensor loss = -at::log_sigmoid(beta_ * (r_w - r_l)).mean();
    // rewards/* and logps/*: the metric names every Genius loss reports.
    return {genius::in_policy_dtype(loss, batch), genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch)};
  }

 private:
  double beta_;
  bool reference_free_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(@CLASS@)
