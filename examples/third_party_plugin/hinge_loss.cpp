// A third-party loss: the SLiC-style hinge on the log-ratio margin,
//   loss = max(0, delta - beta * ((lp_w - ref_w) - (lp_l - ref_l))),
// built against the installed Genius SDK and loaded by `genius` at run time.
#include <ATen/ATen.h>

#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class HingeLoss final : public genius::Loss {
 public:
  // Read by the host without creating the object: `genius plugins`, config validation.
  static const genius::PluginManifest& manifest() {
    static const auto m = genius::PluginManifest(genius::PluginKind::Loss, "hinge", "0.1.0",
                                                 "SLiC-style hinge: max(0, delta - beta * log-ratio margin)")
                              .key("beta", 1.0, "scale of the log-ratio margin", genius::at_least(0.0, false))
                              .key("delta", 1.0, "margin the scaled log-ratio must exceed", genius::at_least(0.0))
                              .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)");
    return m;
  }

  // Every manifest key is present, of its declared type and in range.
  explicit HingeLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        delta_(cfg.get<double>("delta")),
        reference_free_(cfg.get<bool>("reference_free")) {}

  bool needs_reference() const override { return !reference_free_; }

  // loss = max(0, delta - beta * (r_w - r_l)),  r = lp_policy - lp_reference
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    const at::Tensor loss = at::relu(delta_ - beta_ * (r_w - r_l)).mean();
    return {genius::in_policy_dtype(loss, batch), genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch)};
  }

 private:
  double beta_;
  double delta_;
  bool reference_free_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(HingeLoss)
