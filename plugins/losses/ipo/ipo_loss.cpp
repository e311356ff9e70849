// IPO: identity preference optimization (Azar et al. 2023): regress the
// log-ratio margin onto 1 / (2 * tau) instead of pushing it to infinity.
#include <ATen/ATen.h>

#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class IpoLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Loss, "ipo", "1.0.0",
                               "Squared loss pulling the log-ratio margin to 1/(2*beta) (beta is IPO's tau)")
            .key("beta", 0.1, "IPO's tau: the target margin is 1/(2*beta)", genius::at_least(0.0, false))
            .key("length_normalize", false,
                 "use per-token mean log-probs instead of sums (as TRL's loss_type=\"ipo\" does)")
            .key("reference_free", false, "treat the reference model as uniform (r = lp_policy)");
    return m;
  }

  explicit IpoLoss(const genius::ConfigView& cfg)
      : beta_(cfg.get<double>("beta")),
        length_normalize_(cfg.get<bool>("length_normalize")),
        reference_free_(cfg.get<bool>("reference_free")) {}

  bool needs_reference() const override { return !reference_free_; }

  // h = r_w - r_l;  loss = (h - 1 / (2 * beta))^2
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    auto [r_w, r_l] = genius::log_ratios(batch, reference_free_);
    if (length_normalize_) {
      r_w = r_w / batch.chosen_lengths.to(at::kDouble);
      r_l = r_l / batch.rejected_lengths.to(at::kDouble);
    }
    const at::Tensor loss = at::pow(r_w - r_l - 1.0 / (2.0 * beta_), 2).mean();
    return {genius::in_policy_dtype(loss, batch), genius::reward_metrics(beta_ * r_w, beta_ * r_l, batch)};
  }

 private:
  double beta_;
  bool length_normalize_;
  bool reference_free_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(IpoLoss)
